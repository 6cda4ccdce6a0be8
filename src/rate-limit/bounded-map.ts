/**
 * A map with a capacity and an expiry per entry: past the capacity the entry written least
 * recently goes first, so a flood of new keys cannot grow memory without bound.
 */
export class BoundedMap<V> {
  readonly #entries = new Map<string, { value: V, expiresAt: number }>()

  constructor (private readonly capacity: number) {}

  get (key: string, now = Date.now()): V | undefined {
    const entry = this.#entries.get(key)
    if (entry === undefined) return undefined
    if (entry.expiresAt > now) return entry.value
    this.#entries.delete(key)
    return undefined
  }

  set (key: string, value: V, ttlMs: number, now = Date.now()): void {
    this.#entries.delete(key)
    this.#entries.set(key, { value, expiresAt: now + ttlMs })
    if (this.#entries.size > this.capacity) {
      const oldest = this.#entries.keys().next().value
      if (oldest !== undefined) this.#entries.delete(oldest)
    }
  }

  delete (key: string): void {
    this.#entries.delete(key)
  }

  get size (): number {
    return this.#entries.size
  }
}
