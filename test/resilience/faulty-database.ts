import { readFile } from 'node:fs/promises'
import { PGlite } from '@electric-sql/pglite'
import {
  Kysely,
  PostgresDialect,
  type CompiledQuery,
  type DatabaseConnection,
  type Dialect,
  type Driver,
  type QueryResult
} from 'kysely'
import pg from 'pg'
import type { DatabaseHandle } from '../../src/db/connect.js'
import { GuardSlot, GuardedDialect } from '../../src/db/guarded-dialect.js'
import { PGliteDialect } from '../../src/db/pglite-dialect.js'
import { PGliteListener, PostgresListener, type ListenerFactory } from '../../src/db/notifications.js'
import type { Database } from '../../src/db/types.js'
import { createTestDatabase, pgliteTemplatePath, testDatabaseKind, type TestDatabase } from '../setup/databases.js'

/** A switch the test flips: while `down`, every connection and query fails like a dead server. */
export class Faults {
  down = false
  /** Connects and queries attempted so far (refused ones included). */
  calls = 0
  #callsLeft = Infinity

  /** Lets `calls` more connects and queries through, then goes down (a cut mid-request). */
  downAfter (calls: number): void {
    this.#callsLeft = calls
  }

  check (): void {
    this.calls++
    if (this.#callsLeft-- <= 0) { this.down = true; this.#callsLeft = Infinity }
    if (this.down) throw Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' })
  }
}

/** Wraps a real dialect: acquiring a connection and running a query fail while the faults say so. */
class FaultyDialect implements Dialect {
  constructor (private readonly inner: Dialect, private readonly faults: Faults) {}
  createAdapter (): ReturnType<Dialect['createAdapter']> { return this.inner.createAdapter() }
  createQueryCompiler (): ReturnType<Dialect['createQueryCompiler']> { return this.inner.createQueryCompiler() }
  createIntrospector (db: Kysely<unknown>): ReturnType<Dialect['createIntrospector']> { return this.inner.createIntrospector(db) }

  createDriver (): Driver {
    const driver = this.inner.createDriver()
    const faults = this.faults
    return {
      init: async () => driver.init(),
      destroy: async () => driver.destroy(),
      async acquireConnection (): Promise<DatabaseConnection> {
        faults.check()
        const connection = await driver.acquireConnection()
        return {
          async executeQuery<R> (query: CompiledQuery): Promise<QueryResult<R>> {
            faults.check()
            return connection.executeQuery<R>(query)
          },
          streamQuery: connection.streamQuery.bind(connection),
          inner: connection
        } as DatabaseConnection
      },
      beginTransaction: async (c: DatabaseConnection, s: Parameters<Driver['beginTransaction']>[1]) => driver.beginTransaction(innerOf(c), s),
      commitTransaction: async (c: DatabaseConnection) => { faults.check(); await driver.commitTransaction(innerOf(c)) },
      // A dead server cannot be told to roll back: the real rollback cleans up the shared
      // connection, then the caller sees the failure a lost connection gives.
      rollbackTransaction: async (c: DatabaseConnection) => { await driver.rollbackTransaction(innerOf(c)); faults.check() },
      releaseConnection: async (c: DatabaseConnection) => driver.releaseConnection(innerOf(c))
    }
  }
}

function innerOf (connection: DatabaseConnection): DatabaseConnection {
  return (connection as { inner?: DatabaseConnection }).inner ?? connection
}

/**
 * A migrated test database reached through a fault switch (guarded like the real handles), for
 * either database kind. Close it with `drop`.
 */
export async function createFaultyDatabase (faults: Faults): Promise<TestDatabase> {
  let inner: Dialect
  let closeInner: () => Promise<void>
  let listener: ListenerFactory
  let real: TestDatabase | null = null
  if (testDatabaseKind() === 'pglite') {
    // Booted before the app (and its breaker's call timeout) sees it.
    const pglite = new PGlite({ loadDataDir: new Blob([await readFile(pgliteTemplatePath)]) })
    await pglite.waitReady
    inner = new PGliteDialect(pglite)
    closeInner = async () => pglite.close()
    listener = (channels, handlers) => new PGliteListener(pglite, channels, handlers, async (work) => work())
  } else {
    real = await createTestDatabase()
    const pool = new pg.Pool({ connectionString: real.url ?? '', max: 5 })
    // As openPostgres does: a client that loses its server (the test database dropped with
    // force at the end) emits 'error', which must not be an uncaught exception.
    pool.on('error', () => {})
    pool.on('connect', (client) => { client.on('error', () => {}) })
    inner = new PostgresDialect({ pool })
    closeInner = async () => {}
    const url = real.url ?? ''
    listener = (channels, handlers) => new PostgresListener(url, channels, handlers)
  }
  const guard = new GuardSlot()
  const db = new Kysely<Database>({ dialect: new GuardedDialect(new FaultyDialect(inner, faults), guard) })
  const handle: DatabaseHandle = { db, kind: testDatabaseKind(), guard, listener, close: async () => { await db.destroy(); await closeInner() } }
  return {
    handle,
    kind: testDatabaseKind(),
    url: real?.url ?? null,
    drop: async () => { await handle.close(); await real?.drop() }
  }
}
