import { parseArgs } from 'node:util'
import { Ajv } from 'ajv'
import { CLI_SOURCE } from '../audit/events.js'
import { PasswordPolicy } from '../auth/password-policy.js'
import { readSecretInput } from './secret-input.js'
import { RegisterBody, type RegisterBodyType } from '../schemas/auth.js'
import { inspectRequestPart } from '../schemas/request-inspection.js'
import { ajvOptions } from '../server-options.js'
import { asCliFailure, CliError, configFor, ensureMigrated, EXIT_OK, EXIT_USAGE, usageError, withDatabase, type CliIo, type CliOptions } from './common.js'
import { adminService } from './users.js'

/**
 * The register endpoint's body schema, compiled by Ajv with the server's options: the CLI
 * accepts exactly what the API accepts (lengths count code points, not UTF-16 units).
 * `verbose` gives each error its schema, for the field's description.
 */
const registerBody = new Ajv({ ...ajvOptions, verbose: true }).compile<RegisterBodyType>(RegisterBody)

/** How each field is given on the command line, for error messages. */
const fieldSources: Record<string, string> = {
  email: '--email',
  username: '--username',
  full_name: '--full-name',
  password: 'password'
}

/** `create-admin --email E --username U [--full-name N]`; the password from ADMIN_PASSWORD or stdin. */
export async function createAdminCommand (args: string[], io: CliIo, options: CliOptions): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    options: {
      email: { type: 'string' },
      username: { type: 'string' },
      'full-name': { type: 'string' }
    },
    allowPositionals: true,
    strict: true
  })
  if (positionals.length > 0) throw usageError(`unexpected argument "${positionals[0] ?? ''}"`)
  if (values.email === undefined) throw usageError('create-admin needs --email')
  if (values.username === undefined) throw usageError('create-admin needs --username')
  const config = configFor(io, options)

  const input: RegisterBodyType = {
    email: values.email,
    username: values.username,
    password: await readSecretInput(io, 'ADMIN_PASSWORD', 'password'),
    ...(values['full-name'] === undefined ? {} : { full_name: values['full-name'] })
  }
  validate(input)
  // The API's policy, before the database is opened: a refused password changes nothing.
  const refusal = new PasswordPolicy(config.passwordPolicy.minLength).refusal(input.password, input)
  if (refusal !== null) throw new CliError(`invalid password: ${refusal}`, EXIT_USAGE)

  return withDatabase(config, io, async ({ db }) => {
    await ensureMigrated(db, config, io)

    // The account and its audit event (register, via the CLI), as an admin's POST /admin/users makes them.
    const user = await adminService(db, config).create(CLI_SOURCE, { ...input, roles: ['user', 'admin'] })
      .catch((error: unknown) => { throw asCliFailure(error) })
    io.stdout.write(`created admin ${user.username} (${user.id}) <${user.email}>\n`)
    return EXIT_OK
  })
}

function validate (input: RegisterBodyType): void {
  const problems: string[] = inspectRequestPart(input, '').map(({ path, message }) => `${fieldName(path)} ${message}`)
  if (problems.length === 0 && !registerBody(input)) {
    const seen = new Set<string>()
    for (const error of registerBody.errors ?? []) {
      const field = fieldName(error.instancePath)
      if (seen.has(field)) continue
      seen.add(field)
      const description = typeof error.parentSchema?.description === 'string' ? ` (${error.parentSchema.description})` : ''
      problems.push(`invalid ${field}: ${error.message ?? 'is not valid'}${description}`)
    }
  }
  if (problems.length > 0) throw new CliError(problems.join('; '), EXIT_USAGE)
}

function fieldName (path: string): string {
  const key = path.split('/')[1] ?? ''
  return fieldSources[key] ?? key
}
