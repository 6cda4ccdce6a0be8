import { AuditLog } from '../audit/audit-log.js'
import { SessionsService } from '../auth/sessions/sessions.service.js'
import { pendingMigrations } from '../db/migrator.js'
import { CliError, configFor, EXIT_OK, EXIT_PENDING_MIGRATIONS, plural, usageError, withDatabase, type CliIo, type CliOptions } from './common.js'

/** `sessions prune`: deletes ended (revoked, expired, idle) sessions and their refresh tokens, and old audit events. */
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
    const audit = new AuditLog(db, config.audit.retentionDays)
    const result = await new SessionsService(db, config.sessions, audit).prune()
    io.stdout.write(result === null ? 'another instance is pruning sessions right now; nothing done\n' : `pruned ${plural(result.sessions, 'session')}\n`)
    const events = await audit.prune()
    io.stdout.write(events === null ? 'another instance is pruning audit events right now; nothing done\n' : `pruned ${plural(events, 'audit event')}\n`)
    return EXIT_OK
  })
}
