import type { EventEmitter } from 'node:events'
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client'
import type pg from 'pg'
import type { AuditAction, AuditObserver, AuditOutcome } from './audit/events.js'
import type { LoginObserver } from './auth/auth.service.js'
import type { PasswordWorkObserver } from './auth/passwords.js'
import type { LookupSource, SessionView } from './auth/sessions/session-view.js'
import type { DatabaseBreaker } from './db/breaker.js'
import { RequestDurations } from './request-durations.js'

/** What each breaker state reads as in `db_breaker_state`. */
export const BREAKER_STATE_VALUES = { closed: 0, half_open: 1, open: 2 } as const

/** The opossum events counted in `db_breaker_events_total`. */
const BREAKER_EVENTS = ['success', 'failure', 'reject', 'timeout', 'open', 'halfOpen', 'close'] as const

/**
 * The service's Prometheus metrics, in a registry of their own (one per app instance, so
 * several apps in one process — the tests — do not collide in prom-client's global registry).
 */
export class ServiceMetrics implements PasswordWorkObserver, LoginObserver, AuditObserver {
  readonly registry = new Registry()
  readonly httpDuration: RequestDurations
  readonly logins: Counter<'result'>
  readonly passwordHashing: Histogram<'operation'>
  readonly rateLimited: Counter<'rule'>
  readonly rateLimitFallbacks: Counter
  readonly auditEvents: Counter<'action' | 'outcome'>
  readonly sessionLookups: Counter<'source'>
  readonly #lookups = new Map<LookupSource, number>()

  constructor () {
    const registers = [this.registry]
    collectDefaultMetrics({ register: this.registry })
    this.httpDuration = new RequestDurations([0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10], registers)
    this.logins = new Counter({
      name: 'auth_logins_total',
      help: 'Password logins (/auth/login and the password grant) by result: success or failure (wrong credentials, disabled account)',
      labelNames: ['result'],
      registers
    })
    this.passwordHashing = new Histogram({
      name: 'password_hash_duration_seconds',
      help: 'argon2id work by operation: hash (registration, password change, rehash) or verify (login, password checks)',
      labelNames: ['operation'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers
    })
    this.rateLimited = new Counter({
      name: 'http_rate_limited_total',
      help: 'Requests refused with 429, by rule: the per-IP limits (signin, register, refresh, sessions, introspect) and login throttling (login_pair, login_account)',
      labelNames: ['rule'],
      registers
    })
    this.rateLimitFallbacks = new Counter({
      name: 'rate_limit_redis_fallbacks_total',
      help: 'Rate-limit and login-throttle steps done in this process because Redis was unreachable or slower than REDIS_TIMEOUT_MS',
      registers
    })
    this.auditEvents = new Counter({
      name: 'audit_events_written_total',
      help: 'Audit events stored (counted once their transaction or statement has committed), by action and outcome',
      labelNames: ['action', 'outcome'],
      registers
    })
    // Counted in plain numbers on every protected request, handed to prom-client when scraped
    // (its labelled inc() validates and hashes the labels each time).
    const lookups = this.#lookups
    this.sessionLookups = new Counter({
      name: 'session_view_lookups_total',
      help: 'Protected requests by how their user and session were found: hit (memory), miss (database, then kept), read_through (database: the notification listener is not connected)',
      labelNames: ['source'],
      registers,
      collect () {
        this.reset()
        for (const [source, count] of lookups) this.inc({ source }, count)
      }
    })
  }

  /** `session_view_connected` and `session_view_entries{kind}`: the in-memory view of users and live sessions. */
  watchSessionView (view: SessionView): void {
    new Gauge({
      name: 'session_view_connected',
      help: 'Whether the notification listener is connected (1: protected requests may be answered from memory; 0: every one reads the database)',
      registers: [this.registry],
      collect () { this.set(view.connected ? 1 : 0) }
    })
    new Gauge({
      name: 'session_view_entries',
      help: 'Users and live sessions the in-memory view holds (each at most SESSION_CACHE_MAX_ENTRIES)',
      labelNames: ['kind'],
      registers: [this.registry],
      collect () {
        const { users, sessions } = view.size
        this.set({ kind: 'users' }, users)
        this.set({ kind: 'sessions' }, sessions)
      }
    })
  }

  /** `revocation_stream_subscribers`: the revocation streams this instance holds open. */
  watchRevocationStreams (streams: { size: number }): void {
    new Gauge({
      name: 'revocation_stream_subscribers',
      help: 'Open revocation streams (GET /auth/revocations/stream) on this instance',
      registers: [this.registry],
      collect () { this.set(streams.size) }
    })
  }

  sessionLookup (source: LookupSource): void {
    this.#lookups.set(source, (this.#lookups.get(source) ?? 0) + 1)
  }

  /** `db_breaker_state` (0 closed, 1 half-open, 2 open) and `db_breaker_events_total{event}`. */
  watchBreaker (breaker: DatabaseBreaker): void {
    new Gauge({
      name: 'db_breaker_state',
      help: 'Database circuit breaker: 0 closed, 1 half-open (probing), 2 open (database calls refused)',
      registers: [this.registry],
      collect () { this.set(BREAKER_STATE_VALUES[breaker.state]) }
    })
    const events = new Counter({
      name: 'db_breaker_events_total',
      help: 'Database circuit breaker events: success, failure (infrastructure errors only), reject (refused while open), timeout, open, halfOpen, close',
      labelNames: ['event'],
      registers: [this.registry]
    })
    const circuit: EventEmitter = breaker.circuit
    for (const event of BREAKER_EVENTS) {
      events.inc({ event }, 0)
      circuit.on(event, () => { events.inc({ event }) })
    }
  }

  /** `oidc_breaker_state{provider}`: each identity provider's own breaker, as db_breaker_state. */
  watchIdentityProviders (providers: ReadonlyArray<{ name: string, state: keyof typeof BREAKER_STATE_VALUES }>): void {
    if (providers.length === 0) return
    new Gauge({
      name: 'oidc_breaker_state',
      help: 'Circuit breaker of each external identity provider: 0 closed, 1 half-open, 2 open (its sign-ins answer 503)',
      labelNames: ['provider'],
      registers: [this.registry],
      collect () {
        for (const provider of providers) this.set({ provider: provider.name }, BREAKER_STATE_VALUES[provider.state])
      }
    })
  }

  /** `db_pool_connections{state}`: total, idle and waiting clients of the pg pool. */
  watchPool (pool: pg.Pool): void {
    new Gauge({
      name: 'db_pool_connections',
      help: 'PostgreSQL connection pool: total (open), idle, and waiting (requests queued for a connection)',
      labelNames: ['state'],
      registers: [this.registry],
      collect () {
        this.set({ state: 'total' }, pool.totalCount)
        this.set({ state: 'idle' }, pool.idleCount)
        this.set({ state: 'waiting' }, pool.waitingCount)
      }
    })
  }

  passwordWork (operation: 'hash' | 'verify', seconds: number): void {
    this.passwordHashing.observe({ operation }, seconds)
  }

  login (result: 'success' | 'failure'): void {
    this.logins.inc({ result })
  }

  auditWritten (action: AuditAction, outcome: AuditOutcome): void {
    this.auditEvents.inc({ action, outcome })
  }
}
