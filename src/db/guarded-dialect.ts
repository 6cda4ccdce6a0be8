import type {
  CompiledQuery,
  DatabaseConnection,
  DatabaseIntrospector,
  Dialect,
  DialectAdapter,
  Driver,
  Kysely,
  QueryCompiler,
  QueryResult,
  TransactionSettings
} from 'kysely'
import { isInfrastructureError } from './infrastructure-errors.js'

/** Runs one database call; a circuit breaker refuses it or counts its failure. */
export interface CallGuard {
  run: <T>(call: () => Promise<T>) => Promise<T>
}

/**
 * The guard a database handle uses: none (calls run as they are) until the app installs its
 * circuit breaker, so the CLI and test setup work on the same handle type.
 */
export class GuardSlot implements CallGuard {
  #guard: CallGuard | null = null

  use (guard: CallGuard): void {
    this.#guard = guard
  }

  /** Removes `guard` if it is still the one in use (a second app on the same handle may have replaced it). */
  release (guard: CallGuard): void {
    if (this.#guard === guard) this.#guard = null
  }

  async run<T> (call: () => Promise<T>): Promise<T> {
    return this.#guard === null ? call() : this.#guard.run(call)
  }
}

/**
 * Wraps any Kysely dialect so every call that reaches the database goes through `guard`:
 * acquiring a connection, each query, begin and commit. Rollback and release are never
 * refused (they clean up), so an open breaker cannot leave a transaction open on a pooled
 * connection. Nothing built on Kysely — repositories, transactions, migrations — can bypass it.
 */
export class GuardedDialect implements Dialect {
  constructor (private readonly inner: Dialect, private readonly guard: CallGuard) {}

  createAdapter (): DialectAdapter { return this.inner.createAdapter() }
  createDriver (): Driver { return new GuardedDriver(this.inner.createDriver(), this.guard) }
  createQueryCompiler (): QueryCompiler { return this.inner.createQueryCompiler() }
  createIntrospector (db: Kysely<unknown>): DatabaseIntrospector { return this.inner.createIntrospector(db) }
}

type CompileQuery = QueryCompiler['compileQuery']

class GuardedDriver implements Driver {
  constructor (private readonly inner: Driver, private readonly guard: CallGuard) {}

  async init (): Promise<void> {
    await this.guard.run(() => this.inner.init())
  }

  async acquireConnection (): Promise<DatabaseConnection> {
    let acquiring: Promise<DatabaseConnection> | undefined
    try {
      const connection = await this.guard.run(async () => { acquiring = this.inner.acquireConnection(); return acquiring })
      return new GuardedConnection(connection, this.guard)
    } catch (error) {
      // The guard gave up waiting (timeout): if the connection still arrives, hand it back.
      acquiring?.then(async (late) => this.inner.releaseConnection(late)).catch(() => {})
      throw error
    }
  }

  async beginTransaction (connection: DatabaseConnection, settings: TransactionSettings): Promise<void> {
    await this.guard.run(() => this.inner.beginTransaction(unwrap(connection), settings))
  }

  async commitTransaction (connection: DatabaseConnection): Promise<void> {
    await this.guard.run(() => this.inner.commitTransaction(unwrap(connection)))
  }

  async rollbackTransaction (connection: DatabaseConnection): Promise<void> {
    try {
      await this.inner.rollbackTransaction(unwrap(connection))
    } catch (error) {
      // Kysely throws a failed rollback instead of the error that caused it. On a lost
      // connection the server has already aborted the transaction and the pool discards the
      // broken client, so the cause (already a 503 from the guard) is what the caller needs.
      if (!isInfrastructureError(error)) throw error
    }
  }

  async savepoint (connection: DatabaseConnection, name: string, compileQuery: CompileQuery): Promise<void> {
    const inner = this.inner
    if (inner.savepoint === undefined) throw new Error('this database driver does not support savepoints')
    await this.guard.run(() => inner.savepoint!(unwrap(connection), name, compileQuery))
  }

  async rollbackToSavepoint (connection: DatabaseConnection, name: string, compileQuery: CompileQuery): Promise<void> {
    if (this.inner.rollbackToSavepoint === undefined) throw new Error('this database driver does not support savepoints')
    await this.inner.rollbackToSavepoint(unwrap(connection), name, compileQuery)
  }

  async releaseSavepoint (connection: DatabaseConnection, name: string, compileQuery: CompileQuery): Promise<void> {
    const inner = this.inner
    if (inner.releaseSavepoint === undefined) throw new Error('this database driver does not support savepoints')
    await this.guard.run(() => inner.releaseSavepoint!(unwrap(connection), name, compileQuery))
  }

  async releaseConnection (connection: DatabaseConnection): Promise<void> {
    await this.inner.releaseConnection(unwrap(connection))
  }

  async destroy (): Promise<void> {
    await this.inner.destroy()
  }
}

class GuardedConnection implements DatabaseConnection {
  constructor (readonly inner: DatabaseConnection, private readonly guard: CallGuard) {}

  async executeQuery<R> (compiledQuery: CompiledQuery): Promise<QueryResult<R>> {
    return this.guard.run(() => this.inner.executeQuery<R>(compiledQuery))
  }

  streamQuery<R> (compiledQuery: CompiledQuery, chunkSize?: number): AsyncIterableIterator<QueryResult<R>> {
    return this.inner.streamQuery<R>(compiledQuery, chunkSize)
  }
}

function unwrap (connection: DatabaseConnection): DatabaseConnection {
  return connection instanceof GuardedConnection ? connection.inner : connection
}
