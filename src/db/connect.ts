import { PGlite } from '@electric-sql/pglite'
import { Kysely, PostgresDialect } from 'kysely'
import pg from 'pg'
import type { Config } from '../config.js'
import { errorMessage } from '../error-message.js'
import { DataDirError, errorCode, openDataDirectory, unusable, type DataDirectory } from './data-dir.js'
import { PrivateNodeFS } from './private-nodefs.js'
import { GuardSlot, GuardedDialect } from './guarded-dialect.js'
import { PGliteListener, PostgresListener, type ListenerFactory } from './notifications.js'
import { PGliteDialect } from './pglite-dialect.js'
import { preparingPool } from './prepared-statements.js'
import type { Database } from './types.js'

export type DatabaseKind = 'postgres' | 'pglite'

/** An open database: the Kysely handle plus what is needed to close it. */
export interface DatabaseHandle {
  db: Kysely<Database>
  kind: DatabaseKind
  close: () => Promise<void>
  /** Every database call goes through this guard; the app installs its circuit breaker in it. */
  guard: GuardSlot
  /** The pg pool (PostgreSQL only), for pool metrics. */
  pool?: pg.Pool
  /** Makes the instance's LISTEN connection (PGlite: in process). */
  listener: ListenerFactory
  /** The embedded database's directory (PGlite in DATA_DIR only): what was tightened, whose stale lock was taken over. */
  dataDir?: Pick<DataDirectory, 'path' | 'tightened' | 'tookOverFrom'>
}

/** Timeouts enforced by the PostgreSQL driver and server (0 = none). */
export interface PostgresTimeouts {
  statementMs: number
  connectMs: number
}

export async function openDatabase (settings: Config['database'], timeouts?: PostgresTimeouts): Promise<DatabaseHandle> {
  if (settings.kind === 'postgres') return openPostgres(settings.url, settings.poolMax, timeouts)
  if (settings.dataDir === null) {
    const pglite = new PGlite()
    await pglite.waitReady
    return wrapPGlite(pglite)
  }
  return openPGliteDirectory(await openDataDirectory(settings.dataDir))
}

/** PGlite in its directory; the directory's lock is released when the database closes (or fails to open). */
async function openPGliteDirectory (directory: DataDirectory): Promise<DatabaseHandle> {
  const pglite = new PGlite({ fs: new PrivateNodeFS(directory.path) })
  try {
    await pglite.waitReady
  } catch (error) {
    await directory.close()
    // PGlite says only "PGlite failed to initialize properly", or throws Emscripten's errno object.
    throw errorCode(error) === undefined
      ? new DataDirError(`DATA_DIR "${directory.path}": the embedded database failed to start (${errorMessage(error)}); check that it holds a database made by this version and is writable, or set DATA_DIR to an empty directory`)
      : unusable(directory.path, error, 'opening the database in')
  }
  const handle = wrapPGlite(pglite, directory.close)
  return { ...handle, dataDir: { path: directory.path, tightened: directory.tightened, tookOverFrom: directory.tookOverFrom } }
}

export function openPostgres (connectionString: string, poolMax: number, timeouts?: PostgresTimeouts): DatabaseHandle {
  const pool = new pg.Pool({
    connectionString,
    max: poolMax,
    application_name: 'user-service',
    // Connecting and waiting for a free pooled connection both give up after connectMs.
    ...(timeouts === undefined || timeouts.connectMs === 0 ? {} : { connectionTimeoutMillis: timeouts.connectMs }),
    ...(timeouts === undefined || timeouts.statementMs === 0 ? {} : { statement_timeout: timeouts.statementMs })
  })
  // An idle client that loses its server emits 'error'; without a listener that kills the process.
  pool.on('error', () => {})
  // So does a checked-out client between two queries (Kysely adds no listener): the failed
  // query reports it, and the pool discards the broken client when it is released.
  pool.on('connect', (client) => { client.on('error', () => {}) })
  const guard = new GuardSlot()
  const db = new Kysely<Database>({ dialect: new GuardedDialect(new PostgresDialect({ pool: preparingPool(pool) }), guard) })
  const listener: ListenerFactory = (channels, handlers) => new PostgresListener(connectionString, channels, handlers,
    timeouts === undefined || timeouts.connectMs === 0 ? {} : { connectTimeoutMs: timeouts.connectMs })
  return { db, kind: 'postgres', close: () => db.destroy(), guard, pool, listener }
}

/** `afterClose`: what else to release once PGlite has closed (the data directory's lock). */
export function wrapPGlite (pglite: PGlite, afterClose: () => Promise<void> = async () => {}): DatabaseHandle {
  const guard = new GuardSlot()
  const db = new Kysely<Database>({ dialect: new GuardedDialect(new PGliteDialect(pglite), guard) })
  return {
    db,
    kind: 'pglite',
    guard,
    // LISTEN waits its turn on the one connection, so it never lands inside someone's transaction.
    listener: (channels, handlers) => new PGliteListener(pglite, channels, handlers, async (work) => db.connection().execute(work)),
    close: async () => {
      try {
        await db.destroy()
        await pglite.close()
      } finally {
        await afterClose()
      }
    }
  }
}

/**
 * What a database failure at start means, in one line: which database (never its password),
 * the underlying cause, and what to check.
 */
export function databaseStartError (error: unknown, settings: Config['database']): Error {
  const cause = rootCause(error)
  if (settings.kind === 'postgres') {
    return new Error(`cannot use PostgreSQL at ${describePostgresUrl(settings.url)}: ${cause}; check DATABASE_URL and that the server is running and accepts connections from here`, { cause: error })
  }
  const where = settings.dataDir === null ? 'the in-memory database' : `the embedded database in DATA_DIR=${settings.dataDir}`
  return new Error(`cannot use ${where}: ${cause}`, { cause: error })
}

/** host:port/database of a PostgreSQL URL, without the user's credentials. */
export function describePostgresUrl (url: string): string {
  try {
    const parsed = new URL(url)
    return `${parsed.hostname || 'localhost'}:${parsed.port || '5432'}${parsed.pathname === '/' ? '' : parsed.pathname}`
  } catch {
    return 'the configured DATABASE_URL'
  }
}

/** The innermost cause of a failure ("ECONNREFUSED: connect ECONNREFUSED 127.0.0.1:5433"). */
function rootCause (error: unknown): string {
  let current = error
  for (let depth = 0; depth < 5; depth += 1) {
    const inner = current instanceof AggregateError && current.errors.length > 0 ? current.errors[0] : (current as { cause?: unknown } | null)?.cause
    if (inner === undefined || inner === null) break
    current = inner
  }
  if (!(current instanceof Error)) return String(current)
  const code = (current as { code?: unknown }).code
  return typeof code === 'string' && !current.message.includes(code) ? `${code}: ${current.message}` : current.message
}
