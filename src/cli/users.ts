import { API_PREFIX } from '../paths.js'
import { parseArgs } from 'node:util'
import type { Kysely } from 'kysely'
import { AdminUsersService } from '../admin/admin-users.service.js'
import { AuditLog } from '../audit/audit-log.js'
import { CLI_SOURCE } from '../audit/events.js'
import { UUID_PATTERN } from '../auth/access-tokens.js'
import { PasswordPolicy } from '../auth/password-policy.js'
import { PasswordHasher } from '../auth/passwords.js'
import type { Config } from '../config.js'
import type { Database, UserRow } from '../db/types.js'
import { ROLES } from '../schemas/admin.js'
import { toUserRead } from '../schemas/users.js'
import { findUserByLogin } from '../users/users.repository.js'
import { asCliFailure, CliError, configFor, ensureMigrated, EXIT_FAILURE, EXIT_OK, EXIT_USAGE, parseLimit, usageError, withDatabase, type CliIo, type CliOptions } from './common.js'
import { readSecretInput } from './secret-input.js'

const SUBCOMMANDS = ['list', 'show', 'disable', 'enable', 'set-roles', 'set-password'] as const
type Subcommand = typeof SUBCOMMANDS[number]

interface UsersArgs {
  subcommand: Subcommand
  positionals: string[]
  json: boolean
  filter: { q?: string, role?: string, active?: boolean }
  limit: number
}

/**
 * `users list|show|disable|enable|set-roles|set-password`: what the admin API does to
 * accounts, for scripts, through the same service (the last admin is kept; disabling and a new
 * password end every session; audit events say via: cli).
 */
export async function usersCommand (args: string[], io: CliIo, options: CliOptions): Promise<number> {
  const parsed = parseUsersArgs(args)
  const config = configFor(io, options)
  const password = parsed.subcommand === 'set-password' ? await readSecretInput(io, 'NEW_PASSWORD', 'the new password') : undefined
  return withDatabase(config, io, async ({ db }) => {
    await ensureMigrated(db, config, io)
    const service = adminService(db, config)
    await runUsers(parsed, service, db, io, password).catch((error: unknown) => { throw asCliFailure(error) })
    return EXIT_OK
  }, `${API_PREFIX}/admin/users`)
}

/** The admin API's account service, over the CLI's database: the CLI changes accounts by the same rules. */
export function adminService (db: Kysely<Database>, config: Config): AdminUsersService {
  return new AdminUsersService(db, new AuditLog(db, config.audit.retentionDays), new PasswordHasher(config.argon2),
    new PasswordPolicy(config.passwordPolicy.minLength), config.sessions.idleDays)
}

async function runUsers (parsed: UsersArgs, service: AdminUsersService, db: Kysely<Database>, io: CliIo, password: string | undefined): Promise<void> {
  const print = (user: UserRow): void => { io.stdout.write(`${parsed.json ? JSON.stringify(toUserRead(user)) : userLine(user)}\n`) }
  if (parsed.subcommand === 'list') {
    for (const user of (await service.list(parsed.filter, parsed.limit)).items) print(user)
    return
  }
  const id = await userId(db, parsed.positionals[0])
  switch (parsed.subcommand) {
    case 'show': return print(await service.get(id))
    case 'disable': return print(await service.update(CLI_SOURCE, id, { is_active: false }))
    case 'enable': return print(await service.update(CLI_SOURCE, id, { is_active: true }))
    case 'set-roles': return print(await service.update(CLI_SOURCE, id, { roles: parseRoles(parsed.positionals[1]) }))
    case 'set-password':
      await service.setPassword(CLI_SOURCE, id, password ?? '')
      io.stdout.write(`password set; every session of ${id} has ended\n`)
  }
}

function parseUsersArgs (args: string[]): UsersArgs {
  const [subcommand, ...rest] = args
  if (!SUBCOMMANDS.includes(subcommand as Subcommand)) {
    throw usageError(subcommand === undefined ? `users needs a subcommand: ${SUBCOMMANDS.join(', ')}` : `unknown users subcommand "${subcommand}"`)
  }
  const { values, positionals } = parseArgs({
    args: rest,
    options: { json: { type: 'boolean' }, q: { type: 'string' }, role: { type: 'string' }, active: { type: 'string' }, limit: { type: 'string' } },
    allowPositionals: true,
    strict: true
  })
  const wanted = subcommand === 'list' ? 0 : subcommand === 'set-roles' ? 2 : 1
  if (positionals.length !== wanted) {
    throw usageError(`users ${subcommand ?? ''} takes ${wanted === 0 ? 'no argument' : wanted === 1 ? 'a user (id, email or username)' : 'a user and a comma-separated list of roles'}`)
  }
  if (values.active !== undefined && values.active !== 'true' && values.active !== 'false') throw new CliError(`--active must be true or false (got "${values.active}")`, EXIT_USAGE)
  if (values.role !== undefined) parseRoles(values.role)
  if (subcommand === 'set-roles') parseRoles(positionals[1])
  const limit = parseLimit(values.limit, 200, 200)
  return {
    subcommand: subcommand as Subcommand,
    positionals,
    json: values.json === true,
    filter: { q: values.q, role: values.role, active: values.active === undefined ? undefined : values.active === 'true' },
    limit
  }
}

function parseRoles (list: string | undefined): string[] {
  const roles = [...new Set((list ?? '').split(',').map((role) => role.trim()).filter((role) => role !== ''))]
  const unknown = roles.filter((role) => !(ROLES as readonly string[]).includes(role))
  if (roles.length === 0 || unknown.length > 0) throw new CliError(`roles must be a comma-separated list of ${ROLES.join(', ')} (got "${list ?? ''}")`, EXIT_USAGE)
  return roles
}

/** The id of the user a command names: its id, email or username. */
async function userId (db: Kysely<Database>, reference: string | undefined): Promise<string> {
  const text = reference ?? ''
  if (UUID_PATTERN.test(text)) return text.toLowerCase()
  const user = await findUserByLogin(db, text)
  if (user === undefined) throw new CliError(`no user has the id, email or username "${text}"`, EXIT_FAILURE)
  return user.id
}

function userLine (user: UserRow): string {
  return [user.id, user.email, user.username, user.roles.join(','), user.is_active ? 'active' : 'disabled'].join('\t')
}
