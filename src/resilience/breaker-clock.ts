import type { EventEmitter } from 'node:events'

export type BreakerState = 'closed' | 'open' | 'half_open'

/**
 * What an opossum breaker does not tell by itself: its state as one word, the failure that
 * opened it, and the whole seconds until it half-opens (a 503's Retry-After). Shared by the
 * database breaker and each identity provider's.
 */
export class BreakerClock {
  #openedAt = 0
  #lastFailure = 'none'

  /** `circuit`: an opossum CircuitBreaker (any signature). */
  constructor (private readonly circuit: EventEmitter & { readonly closed: boolean, readonly halfOpen: boolean }, private readonly resetMs: number) {
    circuit.on('failure', (error: unknown) => { this.#lastFailure = describeFailure(error) })
    circuit.on('open', () => { this.#openedAt = Date.now() })
  }

  get state (): BreakerState {
    if (this.circuit.closed) return 'closed'
    return this.circuit.halfOpen ? 'half_open' : 'open'
  }

  /** The last failure the breaker counted: why it opened. */
  get lastFailure (): string {
    return this.#lastFailure
  }

  /** Whole seconds until the breaker half-opens (at least 1). */
  retryAfterSeconds (now = Date.now()): number {
    if (this.state !== 'open') return 1
    return Math.max(1, Math.ceil((this.#openedAt + this.resetMs - now) / 1000))
  }
}

/** "ECONNREFUSED: connect ECONNREFUSED …": the code first when the message lacks it; fetch's TypeError by its cause. */
export function describeFailure (error: unknown): string {
  const inner = error instanceof TypeError && error.cause !== undefined ? error.cause : error
  if (!(inner instanceof Error)) return String(inner)
  const code = (inner as { code?: unknown }).code
  return typeof code === 'string' && !inner.message.includes(code) ? `${code}: ${inner.message}` : inner.message
}
