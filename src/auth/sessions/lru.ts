interface Entry<V> {
  value: V
  /** The map's clock when the entry was last put at the end. */
  stamp: number
}

/**
 * A map with a capacity: past it, the entry least recently put at the end goes first (a Map
 * keeps insertion order).
 *
 * A read moves its entry to the end only when the entry has fallen into the older half (at
 * least `capacity / 2` insertions or moves since it was last put there): moving costs a
 * delete and an insert, about ten times the read itself, and the hottest entries (the tokens
 * and users of every request) would pay it on every request. An entry read is therefore kept
 * for at least `capacity / 2` more insertions, where a strict LRU would keep it for
 * `capacity`.
 */
export class LruMap<K, V> {
  readonly #entries = new Map<K, Entry<V>>()
  readonly #halfCapacity: number
  #clock = 0

  constructor (private readonly capacity: number) {
    this.#halfCapacity = Math.floor(capacity / 2)
  }

  get (key: K): V | undefined {
    const entry = this.#entries.get(key)
    if (entry === undefined) return undefined
    if (this.#clock - entry.stamp >= this.#halfCapacity) {
      this.#entries.delete(key)
      entry.stamp = ++this.#clock
      this.#entries.set(key, entry)
    }
    return entry.value
  }

  set (key: K, value: V): void {
    this.#entries.delete(key)
    this.#entries.set(key, { value, stamp: ++this.#clock })
    if (this.#entries.size > this.capacity) {
      const oldest = this.#entries.keys().next()
      if (oldest.done !== true) this.#entries.delete(oldest.value)
    }
  }

  delete (key: K): void {
    this.#entries.delete(key)
  }

  clear (): void {
    this.#entries.clear()
  }

  get size (): number {
    return this.#entries.size
  }
}
