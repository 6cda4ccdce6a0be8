/**
 * A map with a capacity: past it, the entry used least recently goes first (a Map keeps
 * insertion order, and a read moves its entry to the end).
 */
export class LruMap<K, V> {
  readonly #entries = new Map<K, V>()

  constructor (private readonly capacity: number) {}

  get (key: K): V | undefined {
    const value = this.#entries.get(key)
    if (value === undefined) return undefined
    this.#entries.delete(key)
    this.#entries.set(key, value)
    return value
  }

  set (key: K, value: V): void {
    this.#entries.delete(key)
    this.#entries.set(key, value)
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
