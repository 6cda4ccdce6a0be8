import { sql, type Kysely } from 'kysely'
import type { BreakerState } from '../db/breaker.js'
import { pendingMigrations } from '../db/migrator.js'

/** What readiness needs to know about the database circuit breaker. */
export interface BreakerStatus {
  state: BreakerState
  reason: string
  retryAfterSeconds: () => number
}

export interface Readiness {
  ready: boolean
  checks: {
    database: 'ok' | 'unreachable'
    migrations: 'ok' | 'pending' | 'unknown'
    breaker?: BreakerState
  }
  pending_migrations?: string[]
  reason?: string
}

/**
 * Is the service able to serve: database reachable and every migration applied. Once all
 * migrations are seen applied, later checks only ping the database.
 */
export class ReadinessCheck {
  #migrationsApplied = false

  constructor (private readonly db: Kysely<any>, private readonly breaker?: BreakerStatus) {}

  async check (): Promise<Readiness> {
    const breaker = this.breaker
    if (breaker !== undefined && breaker.state !== 'closed') {
      // Not even a ping: the breaker would refuse it, and says more than "unreachable".
      return {
        ready: false,
        checks: { database: 'unreachable', migrations: 'unknown', breaker: breaker.state },
        reason: `database circuit breaker ${breaker.state.replace('_', '-')} (${breaker.reason}); next probe in ${breaker.retryAfterSeconds()} s`
      }
    }
    try {
      await sql`select 1`.execute(this.db)
    } catch {
      return { ready: false, checks: { database: 'unreachable', migrations: 'unknown' }, reason: 'the database is unreachable' }
    }
    if (this.#migrationsApplied) return { ready: true, checks: { database: 'ok', migrations: 'ok' } }
    const pending = await pendingMigrations(this.db)
    if (pending.length > 0) {
      return {
        ready: false,
        checks: { database: 'ok', migrations: 'pending' },
        pending_migrations: pending,
        reason: `${pending.length} database migration(s) pending: run "user-service migrate up" or set MIGRATE_ON_START=true`
      }
    }
    this.#migrationsApplied = true
    return { ready: true, checks: { database: 'ok', migrations: 'ok' } }
  }
}
