import type { Kysely } from 'kysely'
import { loadConfig, type Config } from '../config.js'
import { databaseStartError, openDatabase, type DatabaseHandle } from '../db/connect.js'
import { DataDirError, DataDirInUseError, dataDirNotices } from '../db/data-dir.js'
import { migrateToLatest, pendingMigrations } from '../db/migrator.js'
import { isInfrastructureError } from '../db/infrastructure-errors.js'
import type { Database } from '../db/types.js'
import { AppError } from '../errors.js'

/** Where a command writes and reads; the real process streams, or test doubles. */
export interface CliIo {
  stdout: { write: (text: string) => unknown }
  stderr: { write: (text: string) => unknown }
  stdin: NodeJS.ReadableStream & { isTTY?: boolean }
  env: NodeJS.ProcessEnv
}

export interface CliOptions {
  /** Also read a `.env` file from the working directory (the real entry point does). */
  dotenv?: boolean
}

export const EXIT_OK = 0
export const EXIT_FAILURE = 1
export const EXIT_USAGE = 2
export const EXIT_PENDING_MIGRATIONS = 3
export const EXIT_DATA_DIR_IN_USE = 4

/** A failure with a one-line message for stderr and the exit code it maps to. */
export class CliError extends Error {
  override name = 'CliError'

  constructor (message: string, readonly exitCode: number = EXIT_FAILURE) {
    super(message)
  }
}

export function usageError (message: string): CliError {
  return new CliError(`${message} (see "user-service help")`, EXIT_USAGE)
}

export function configFor (io: CliIo, options: CliOptions): Config {
  return loadConfig(io.env, { dotenv: options.dotenv ?? false })
}

/**
 * Opens the configured database, runs `work`, and always closes it so the process can exit.
 * `adminApi`: the admin API path that does the same while a server holds an embedded DATA_DIR.
 */
export async function withDatabase<T> (config: Config, io: CliIo, work: (handle: DatabaseHandle) => Promise<T>, adminApi?: string): Promise<T> {
  if (config.database.kind === 'pglite' && config.database.dataDir === null) {
    throw new CliError('DATABASE_URL=memory:// is an in-memory database that is gone when this command exits; set DATABASE_URL to PostgreSQL or DATA_DIR to a directory', EXIT_USAGE)
  }
  const handle = await openDatabase(config.database).catch((error: unknown) => {
    if (error instanceof DataDirInUseError && adminApi !== undefined) {
      throw new CliError(`${error.inUse}; while the server runs, use its admin API instead (${config.publicUrl}${adminApi}), ` +
        `or stop the server (pid ${error.holder.pid}) first`, EXIT_DATA_DIR_IN_USE)
    }
    throw asCliError(error)
  })
  if (handle.dataDir !== undefined) for (const notice of dataDirNotices(handle.dataDir)) io.stderr.write(`user-service: ${notice}\n`)
  try {
    return await work(handle)
  } catch (error) {
    // "connect ECONNREFUSED 10.0.0.5:5432" alone does not say which setting to look at.
    throw isInfrastructureError(error) ? new CliError(databaseStartError(error, config.database).message, EXIT_FAILURE) : error
  } finally {
    await handle.close()
  }
}

/** The data directory's own errors, with their exit codes; anything else as it is. */
export function asCliError (error: unknown): unknown {
  if (error instanceof DataDirInUseError) return new CliError(error.message, EXIT_DATA_DIR_IN_USE)
  if (error instanceof DataDirError) return new CliError(error.message, EXIT_FAILURE)
  return error
}

export function plural (count: number, word: string): string {
  return `${count} ${word}${count === 1 ? '' : 's'}`
}

/** With MIGRATE_ON_START=true migrates (and says what it applied); else refuses a database with pending migrations. */
export async function ensureMigrated (db: Kysely<Database>, config: Config, io: CliIo): Promise<void> {
  if (config.migrateOnStart) {
    const applied = await migrateToLatest(db)
    if (applied.length > 0) io.stderr.write(`user-service: applied ${plural(applied.length, 'migration')}: ${applied.join(', ')}\n`)
    return
  }
  const pending = await pendingMigrations(db)
  if (pending.length > 0) {
    throw new CliError(`the database has ${plural(pending.length, 'pending migration')} (${pending.join(', ')}); run "user-service migrate up" first or set MIGRATE_ON_START=true`, EXIT_PENDING_MIGRATIONS)
  }
}

/** `--limit`: a whole number from 1 to `max`, or `fallback` when it is not given. */
export function parseLimit (value: string | undefined, fallback: number, max: number): number {
  if (value === undefined) return fallback
  const limit = Number(value)
  if (!/^\d+$/.test(value) || limit < 1 || limit > max) throw new CliError(`--limit must be a whole number from 1 to ${max} (got "${value}")`, EXIT_USAGE)
  return limit
}

/** A refusal of a service (AppError) as the CLI reports it: bad input exits 2, the rest 1; anything else as it is. */
export function asCliFailure (error: unknown): unknown {
  return error instanceof AppError ? new CliError(error.message, error.status === 400 ? EXIT_USAGE : EXIT_FAILURE) : error
}
