import { SessionsService } from '../auth/sessions/sessions.service.js'
import { pendingMigrations } from '../db/migrator.js'
import { CliError, configFor, EXIT_OK, EXIT_PENDING_MIGRATIONS, plural, usageError, withDatabase, type CliIo, type CliOptions } from './common.js'

/** `sessions prune`: deletes ended (revoked, expired, idle) sessions and their refresh tokens. */
export async function sessionsCommand (args: string[], io: CliIo, options: CliOptions): Promise<number> {
  const [subcommand, ...rest] = args
  if (subcommand !== 'prune') {
    throw usageError(subcommand === undefined ? 'sessions needs a subcommand: prune' : `unknown sessions subcommand "${subcommand}"`)
  }
  if (rest.length > 0) throw usageError(`unexpected argument "${rest[0] ?? ''}"`)
  const config = configFor(io, options)
  return withDatabase(config, io, async ({ db }) => {
    if ((await pendingMigrations(db)).length > 0) {
      throw new CliError('database migrations are pending: run "user-service migrate up" first', EXIT_PENDING_MIGRATIONS)
    }
    const result = await new SessionsService(db, config.sessions).prune()
    if (result === null) {
      io.stdout.write('another instance is pruning right now; nothing done\n')
      return EXIT_OK
    }
    io.stdout.write(`pruned ${plural(result.sessions, 'session')}\n`)
    return EXIT_OK
  })
}
