import { ConfigError } from '../config.js'
import { errorMessage } from '../error-message.js'
import { DataDirInUseError } from '../db/data-dir.js'
import { CliError, configFor, EXIT_DATA_DIR_IN_USE, EXIT_FAILURE, EXIT_OK, EXIT_USAGE, usageError, type CliIo, type CliOptions } from './common.js'

export type { CliIo, CliOptions } from './common.js'

export const usage = `Usage: user-service <command> [options]

Commands:
  serve                       start the HTTP service (same as npm start)
  migrate up                  apply pending database migrations
  migrate down                roll back the most recent migration
  migrate status [--check]    list migrations as "applied  <name>  <time>" or "pending  <name>";
                              with --check, exit 3 when any is pending
  create-admin --email E --username U [--full-name N]
                              create an account with the roles user and admin; the password is
                              ADMIN_PASSWORD, else all of stdin (one trailing newline removed)
  keys list [--json]          the signing keys: kid, algorithm, active or retired, until when it verifies
  keys rotate                 make a new signing key; the previous one retires but keeps verifying
                              (and stays in the JWKS) for JWT_EXPIRE_MINUTES + 60 s
  keys retire KID [--now]     retire a key that no longer signs; --now stops it verifying at once
  sessions prune              delete ended sessions (revoked, expired, idle) and their
                              refresh tokens; the server also does this every
                              SESSION_PRUNE_INTERVAL_MINUTES; also deletes audit events older
                              than AUDIT_RETENTION_DAYS
  audit tail [--limit N] [--action A] [--user UUID]
                              the newest audit events (50 unless --limit, at most 10000) as
                              JSON lines, oldest first; --action: one action (register, login,
                              logout, ...); --user: events done by or to that user
  users list [--q PREFIX] [--role R] [--active true|false] [--limit N] [--json]
                              accounts, newest first (200 unless --limit): id, email, username,
                              roles, active or disabled, tab-separated; --json: one JSON object a line
  users show USER [--json]    one account; USER is its id, email or username
  users disable USER          disable it and end every session of it at once
  users enable USER
  users set-roles USER R[,R]  replace its roles (user, admin, service)
  users set-password USER     set its password (NEW_PASSWORD, else all of stdin); every session ends
                              The last active admin cannot be disabled or demoted (exit 1).
  clients create --name N --type public|confidential --grant G[,G] [--audience A] [--scope S]... [--json]
                              register an OAuth client (grants: password, refresh_token,
                              client_credentials); a confidential one's secret is printed once
  clients list [--json]       the clients: id, name, type, grants, enabled or disabled
  clients rotate-secret ID    a new secret, printed once; the old one stops working
  clients delete ID
  help                        show this text

Configuration comes from the environment (and .env), as for the server: DATABASE_URL
(PostgreSQL) or DATA_DIR (embedded database), MIGRATE_ON_START, ARGON2_*, ...
The embedded database is used by one process at a time: while a server runs on DATA_DIR,
every command on it exits 4 naming the server's pid (stop it first, or use PostgreSQL);
users, clients and audit name the server's admin API, which does the same meanwhile.

Exit codes:
  0  success
  1  failure (including email or username already taken)
  2  usage or configuration error (including an invalid email, username or password)
  3  migrations pending (migrate status --check; create-admin when MIGRATE_ON_START=false)
  4  DATA_DIR in use by another process (a running server, another command)
`

/** The whole CLI as a function: parses `argv` (without node and the script), returns the exit code. */
export async function runCli (argv: string[], io: CliIo, options: CliOptions = {}): Promise<number> {
  const [command, ...args] = argv
  try {
    // Each command loads its modules when it runs, so help and usage errors answer quickly.
    switch (command) {
      case 'serve':
        return await serveCommand(args, io, options)
      case 'migrate':
        return await (await import('./migrate.js')).migrateCommand(args, io, options)
      case 'create-admin':
        return await (await import('./create-admin.js')).createAdminCommand(args, io, options)
      case 'keys':
        return await (await import('./keys.js')).keysCommand(args, io, options)
      case 'sessions':
        return await (await import('./sessions.js')).sessionsCommand(args, io, options)
      case 'users':
        return await (await import('./users.js')).usersCommand(args, io, options)
      case 'clients':
        return await (await import('./clients.js')).clientsCommand(args, io, options)
      case 'audit':
        return await (await import('./audit.js')).auditCommand(args, io, options)
      case 'help':
      case '--help':
      case '-h':
        io.stdout.write(usage)
        return EXIT_OK
      case undefined:
        io.stderr.write(usage)
        return EXIT_USAGE
      default:
        throw usageError(`unknown command "${command}"`)
    }
  } catch (error) {
    return report(error, io)
  }
}

async function serveCommand (args: string[], io: CliIo, options: CliOptions): Promise<number> {
  if (args.length > 0) throw usageError(`serve takes no arguments (got "${args[0] ?? ''}")`)
  const config = configFor(io, options)
  const { serve } = await import('../server.js')
  try {
    await serve(config)
  } catch (error) {
    throw new CliError(`failed to start: ${errorMessage(error)}`, error instanceof DataDirInUseError ? EXIT_DATA_DIR_IN_USE : EXIT_FAILURE)
  }
  return EXIT_OK
}

function report (error: unknown, io: CliIo): number {
  if (error instanceof CliError) {
    io.stderr.write(`user-service: ${error.message}\n`)
    if (error.exitCode === EXIT_USAGE && error.message.endsWith('(see "user-service help")')) io.stderr.write(`\n${usage}`)
    return error.exitCode
  }
  if (error instanceof ConfigError) {
    io.stderr.write(`user-service: ${error.message}\n`)
    return EXIT_USAGE
  }
  // parseArgs: unknown option, missing option value, ...
  if (isParseArgsError(error)) {
    io.stderr.write(`user-service: ${error.message}\n\n${usage}`)
    return EXIT_USAGE
  }
  io.stderr.write(`user-service: ${errorMessage(error)}\n`)
  return EXIT_FAILURE
}

function isParseArgsError (error: unknown): error is Error {
  const code = (error as { code?: unknown } | null)?.code
  return error instanceof TypeError && typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS_')
}
