import CircuitBreaker from 'opossum'
import { BreakerClock, type BreakerState } from '../resilience/breaker-clock.js'
import type { CallGuard } from './guarded-dialect.js'
import { isInfrastructureError } from './infrastructure-errors.js'

export interface BreakerSettings {
  /** A single database call (connect, query) slower than this counts as a failure. */
  timeoutMs: number
  /** Percentage of failed calls in the rolling window that opens the breaker. */
  errorThresholdPercent: number
  /** How long the breaker stays open before it half-opens and probes the database. */
  resetMs: number
  /** Calls in the rolling window before the breaker may open at all. */
  volumeThreshold: number
}

export type { BreakerState }

/** What the breaker can tell a log line or a probe (tests, metrics). */
export interface BreakerLog {
  info: (object: Record<string, unknown>, message: string) => void
  warn: (object: Record<string, unknown>, message: string) => void
}

/** The database is unreachable or the breaker is open: a 503 with Retry-After, never a 500. */
export class DatabaseUnavailableError extends Error {
  override name = 'DatabaseUnavailableError'
  readonly code = 'database_unavailable'

  constructor (message: string, readonly retryAfterSeconds: number, options: { cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
  }
}

type Call = () => Promise<unknown>

/**
 * An opossum circuit breaker around every database call (see guarded-dialect.ts). Only
 * infrastructure failures count; query errors pass through untouched. When it half-opens it
 * probes the database by itself (the `probe` set by the db plugin), so requests never have to.
 */
export class DatabaseBreaker implements CallGuard {
  readonly circuit: CircuitBreaker<[Call], unknown>
  readonly #clock: BreakerClock
  #probe: (() => Promise<unknown>) | null = null

  constructor (readonly settings: BreakerSettings, private readonly log?: BreakerLog) {
    this.circuit = new CircuitBreaker(async (call: Call) => call(), {
      name: 'database',
      timeout: settings.timeoutMs,
      errorThresholdPercentage: settings.errorThresholdPercent,
      resetTimeout: settings.resetMs,
      volumeThreshold: settings.volumeThreshold,
      // Returning true means "not a failure": only infrastructure errors count.
      errorFilter: (error: unknown) => !isInfrastructureError(error) && !isBreakerTimeout(error)
    })
    this.#clock = new BreakerClock(this.circuit, settings.resetMs)
    this.circuit.on('open', () => this.#onOpen())
    this.circuit.on('halfOpen', () => this.#onHalfOpen())
    this.circuit.on('close', () => {
      this.log?.info({ event: 'db_breaker', state: 'closed' }, 'database circuit breaker closed: the database answers again')
    })
  }

  get state (): BreakerState {
    return this.#clock.state
  }

  /** Why the breaker last opened (the last infrastructure failure it saw). */
  get reason (): string {
    return this.#clock.lastFailure
  }

  /** Whole seconds until the breaker half-opens (at least 1). */
  retryAfterSeconds (now = Date.now()): number {
    return this.#clock.retryAfterSeconds(now)
  }

  /** The database probe run on half-open; it closes the breaker again or reopens it. */
  setProbe (probe: (() => Promise<unknown>) | null): void {
    this.#probe = probe
  }

  /** The error a request gets while the breaker is not closed. */
  unavailable (cause?: unknown): DatabaseUnavailableError {
    const message = this.state === 'closed'
      ? 'the database is unreachable; try again shortly'
      : `the database is unavailable (circuit breaker ${this.state.replace('_', '-')}); try again in ${this.retryAfterSeconds()} s`
    return new DatabaseUnavailableError(message, this.retryAfterSeconds(), { cause })
  }

  async run<T> (call: () => Promise<T>): Promise<T> {
    try {
      return await this.circuit.fire(call) as T
    } catch (error) {
      if (isBreakerOpen(error) || isBreakerTimeout(error) || isInfrastructureError(error)) throw this.unavailable(error)
      throw error
    }
  }

  shutdown (): void {
    this.#probe = null
    this.circuit.shutdown()
  }

  #onOpen (): void {
    this.log?.warn({ event: 'db_breaker', state: 'open', reason: this.reason, retry_after_ms: this.settings.resetMs },
      `database circuit breaker opened: ${this.reason}`)
  }

  #onHalfOpen (): void {
    this.log?.info({ event: 'db_breaker', state: 'half_open' }, 'database circuit breaker half-open: probing the database')
    const probe = this.#probe
    // A failed probe reopens the breaker (opossum counts it); the error itself is not news.
    if (probe !== null) probe().catch(() => {})
  }
}

function isBreakerOpen (error: unknown): boolean {
  return (error as { code?: unknown } | null)?.code === 'EOPENBREAKER'
}

/** opossum's own timeout (code ETIMEDOUT, "Timed out after N ms"). */
function isBreakerTimeout (error: unknown): boolean {
  const { code, message } = (error ?? {}) as { code?: unknown, message?: unknown }
  return code === 'ETIMEDOUT' && typeof message === 'string' && message.startsWith('Timed out after')
}
