import fp from 'fastify-plugin'
import { sql, type Kysely } from 'kysely'
import type pg from 'pg'
import { databaseStartError, openDatabase, type DatabaseHandle, type DatabaseKind } from '../src/db/connect.js'
import { dataDirNotices } from '../src/db/data-dir.js'
import { migrateToLatest, MigrationError, pendingMigrations } from '../src/db/migrator.js'
import type { ListenerFactory } from '../src/db/notifications.js'
import type { Database } from '../src/db/types.js'
import { ReadinessCheck } from '../src/health/readiness.js'

declare module 'fastify' {
  interface FastifyInstance {
    db: Kysely<Database>
    databaseKind: DatabaseKind
    /** The pg pool on PostgreSQL (pool metrics), null on PGlite. */
    dbPool: pg.Pool | null
    /** Opens this instance's LISTEN connection (PGlite: in process); plugins/session-view.ts holds the one. */
    openNotificationListener: ListenerFactory
    /** Database reachable, migrations applied, breaker closed: what /ready answers and the start log says. */
    readiness: ReadinessCheck
  }
}

export interface DbPluginOptions {
  /** An already open database (tests); otherwise one is opened from the configuration and closed with the app. */
  database?: DatabaseHandle | undefined
}

export default fp<DbPluginOptions>(async (app, options) => {
  const handle = options.database ?? await openDatabase(app.config.database, app.config.dbTimeouts)
  if (options.database === undefined) app.addHook('onClose', async () => handle.close())
  if (handle.dataDir !== undefined) {
    for (const notice of dataDirNotices(handle.dataDir)) app.log.warn({ dataDir: handle.dataDir.path }, notice)
  }
  // From here on every call — migrations included — goes through the circuit breaker.
  handle.guard.use(app.dbBreaker)
  app.dbBreaker.setProbe(async () => sql`select 1`.execute(handle.db))
  app.addHook('onClose', async () => { handle.guard.release(app.dbBreaker) })

  try {
    if (app.config.migrateOnStart) {
      const applied = await migrateToLatest(handle.db)
      if (applied.length > 0) app.log.info({ migrations: applied }, 'applied database migrations')
    } else {
      const pending = await pendingMigrations(handle.db)
      if (pending.length > 0) {
        app.log.warn({ pending }, 'database migrations are pending and MIGRATE_ON_START is off: /ready answers 503 until "user-service migrate up" runs')
      }
    }
  } catch (error) {
    // A failed migration says which one; anything else is the database itself, said with where it is.
    throw error instanceof MigrationError ? error : databaseStartError(error, app.config.database)
  }

  app.decorate('db', handle.db)
  app.decorate('databaseKind', handle.kind)
  app.decorate('dbPool', handle.pool ?? null)
  app.decorate('openNotificationListener', handle.listener)
  app.decorate('readiness', new ReadinessCheck(handle.db, app.dbBreaker))
}, { name: 'db', dependencies: ['config', 'breaker'] })
