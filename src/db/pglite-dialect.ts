import type { PGlite } from '@electric-sql/pglite'
import {
  CompiledQuery,
  PostgresAdapter,
  PostgresIntrospector,
  PostgresQueryCompiler,
  type DatabaseConnection,
  type DatabaseIntrospector,
  type Dialect,
  type DialectAdapter,
  type Driver,
  type Kysely,
  type QueryCompiler,
  type QueryResult,
  type TransactionSettings
} from 'kysely'

/**
 * A Kysely dialect for PGlite. PGlite is a single connection, so the driver hands it out
 * to one holder at a time (a transaction keeps it until commit or rollback) and queues
 * everyone else, instead of letting their statements interleave with an open transaction.
 */
export class PGliteDialect implements Dialect {
  constructor (private readonly pglite: PGlite) {}

  createAdapter (): DialectAdapter { return new PostgresAdapter() }
  createDriver (): Driver { return new PGliteDriver(this.pglite) }
  createQueryCompiler (): QueryCompiler { return new PostgresQueryCompiler() }
  createIntrospector (db: Kysely<unknown>): DatabaseIntrospector { return new PostgresIntrospector(db) }
}

class PGliteDriver implements Driver {
  readonly #connection: PGliteConnection
  #queue: Promise<void> = Promise.resolve()

  constructor (pglite: PGlite) {
    this.#connection = new PGliteConnection(pglite)
  }

  async init (): Promise<void> {}

  async acquireConnection (): Promise<DatabaseConnection> {
    let release!: () => void
    const previous = this.#queue
    this.#queue = new Promise((resolve) => { release = resolve })
    await previous
    this.#connection.release = release
    return this.#connection
  }

  async beginTransaction (connection: DatabaseConnection, settings: TransactionSettings): Promise<void> {
    const isolation = settings.isolationLevel === undefined ? '' : ` isolation level ${settings.isolationLevel}`
    await connection.executeQuery(CompiledQuery.raw(`begin${isolation}`))
  }

  async commitTransaction (connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('commit'))
  }

  async rollbackTransaction (connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('rollback'))
  }

  async releaseConnection (connection: DatabaseConnection): Promise<void> {
    (connection as PGliteConnection).release()
  }

  async destroy (): Promise<void> {
    await this.#queue
  }
}

class PGliteConnection implements DatabaseConnection {
  release: () => void = () => {}

  constructor (private readonly pglite: PGlite) {}

  async executeQuery<R> (compiledQuery: CompiledQuery): Promise<QueryResult<R>> {
    const result = await this.pglite.query<R>(compiledQuery.sql, [...compiledQuery.parameters])
    const command = (result as { command?: string }).command
    const changesRows = command === 'INSERT' || command === 'UPDATE' || command === 'DELETE' || command === 'MERGE'
    return {
      rows: result.rows,
      ...(changesRows ? { numAffectedRows: BigInt(result.affectedRows ?? 0) } : {})
    }
  }

  // eslint-disable-next-line require-yield
  async * streamQuery<R> (): AsyncIterableIterator<QueryResult<R>> {
    throw new Error('streaming queries are not supported on PGlite')
  }
}
