import { API_PREFIX } from '../paths.js'
import { parseArgs } from 'node:util'
import { AuditLog } from '../audit/audit-log.js'
import type { AuditFilter } from '../audit/audit.repository.js'
import { AUDIT_ACTIONS, isAuditAction } from '../audit/events.js'
import { UUID_PATTERN } from '../auth/access-tokens.js'
import type { AuditEventRow } from '../db/types.js'
import { CliError, configFor, ensureMigrated, EXIT_OK, EXIT_USAGE, parseLimit, usageError, withDatabase, type CliIo, type CliOptions } from './common.js'

export const DEFAULT_TAIL_LIMIT = 50
export const MAX_TAIL_LIMIT = 10000

/**
 * `audit tail [--limit N] [--action A] [--user UUID]`: the newest matching events as JSON
 * lines, printed oldest first (as `tail` does: the newest is the last line).
 */
export async function auditCommand (args: string[], io: CliIo, options: CliOptions): Promise<number> {
  const [subcommand, ...rest] = args
  if (subcommand !== 'tail') {
    throw usageError(subcommand === undefined ? 'audit needs a subcommand: tail' : `unknown audit subcommand "${subcommand}"`)
  }
  const filter = tailFilter(rest)
  const config = configFor(io, options)
  return withDatabase(config, io, async ({ db }) => {
    await ensureMigrated(db, config, io)
    const events = await new AuditLog(db, config.audit.retentionDays).list(filter)
    for (const event of events.reverse()) io.stdout.write(`${JSON.stringify(auditEventJson(event))}\n`)
    return EXIT_OK
  }, `${API_PREFIX}/admin/audit-events`)
}

function tailFilter (args: string[]): AuditFilter {
  const { values, positionals } = parseArgs({
    args,
    options: { limit: { type: 'string' }, action: { type: 'string' }, user: { type: 'string' } },
    allowPositionals: true,
    strict: true
  })
  if (positionals.length > 0) throw usageError(`unexpected argument "${positionals[0] ?? ''}"`)
  const limit = parseLimit(values.limit, DEFAULT_TAIL_LIMIT, MAX_TAIL_LIMIT)
  if (values.action !== undefined && !isAuditAction(values.action)) {
    throw new CliError(`--action must be one of ${Object.keys(AUDIT_ACTIONS).join(', ')} (got "${values.action}")`, EXIT_USAGE)
  }
  if (values.user !== undefined && !UUID_PATTERN.test(values.user)) {
    throw new CliError(`--user must be a user id (a UUID; got "${values.user}")`, EXIT_USAGE)
  }
  return { limit, action: values.action, userId: values.user?.toLowerCase() }
}

/** An event as one JSON object: the row's columns, the time in ISO 8601. */
export function auditEventJson (event: AuditEventRow): Record<string, unknown> {
  return { ...event, at: event.at.toISOString() }
}
