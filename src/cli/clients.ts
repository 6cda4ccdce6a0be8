import { API_PREFIX } from '../paths.js'
import { parseArgs } from 'node:util'
import { AuditLog } from '../audit/audit-log.js'
import { CLI_SOURCE } from '../audit/events.js'
import { UUID_PATTERN } from '../auth/access-tokens.js'
import type { ClientRow } from '../auth/clients/clients.repository.js'
import { ClientsService, GRANT_TYPES, type GrantType } from '../auth/clients/clients.service.js'
import { toClientRead } from '../schemas/clients.js'
import { asCliFailure, CliError, configFor, ensureMigrated, EXIT_OK, EXIT_USAGE, usageError, withDatabase, type CliIo, type CliOptions } from './common.js'

const SUBCOMMANDS = ['create', 'list', 'rotate-secret', 'delete'] as const
type Subcommand = typeof SUBCOMMANDS[number]

interface CreateOptions { name: string, type: 'public' | 'confidential', grant_types: GrantType[], audience?: string, scopes: string[] }

/**
 * `clients create|list|rotate-secret|delete`: the client registry for scripts. A confidential
 * client's secret is printed once, at creation and at rotation (`client_secret=...` on its own
 * line, or in the JSON); it is never stored in clear.
 */
export async function clientsCommand (args: string[], io: CliIo, options: CliOptions): Promise<number> {
  const [subcommand, ...rest] = args
  if (!SUBCOMMANDS.includes(subcommand as Subcommand)) {
    throw usageError(subcommand === undefined ? `clients needs a subcommand: ${SUBCOMMANDS.join(', ')}` : `unknown clients subcommand "${subcommand}"`)
  }
  const { values, positionals } = parseArgs({
    args: rest,
    options: { json: { type: 'boolean' }, name: { type: 'string' }, type: { type: 'string' }, grant: { type: 'string', multiple: true }, audience: { type: 'string' }, scope: { type: 'string', multiple: true } },
    allowPositionals: true,
    strict: true
  })
  const wanted = subcommand === 'create' || subcommand === 'list' ? 0 : 1
  if (positionals.length !== wanted) throw usageError(`clients ${subcommand ?? ''} takes ${wanted === 0 ? 'no argument' : 'a client id'}`)
  const clientId = positionals[0]
  if (clientId !== undefined && !UUID_PATTERN.test(clientId)) throw new CliError(`a client id is a UUID (got "${clientId}")`, EXIT_USAGE)
  const create = subcommand === 'create' ? createOptions(values) : undefined
  const config = configFor(io, options)
  return withDatabase(config, io, async ({ db }) => {
    await ensureMigrated(db, config, io)
    const service = new ClientsService(db, new AuditLog(db, config.audit.retentionDays))
    const print = (client: ClientRow, secret: string | null = null): void => { io.stdout.write(clientText(client, secret, values.json === true)) }
    const run = async (): Promise<void> => {
      if (subcommand === 'list') {
        for (const client of (await service.list(200)).items) print(client)
      } else if (subcommand === 'delete') {
        await service.delete(CLI_SOURCE, clientId ?? '')
      } else {
        const { client, secret } = create !== undefined ? await service.create(CLI_SOURCE, create) : await service.rotateSecret(CLI_SOURCE, clientId ?? '')
        print(client, secret)
      }
    }
    await run().catch((error: unknown) => { throw asCliFailure(error) })
    return EXIT_OK
  }, `${API_PREFIX}/admin/clients`)
}

function createOptions (values: { name?: string, type?: string, grant?: string[], audience?: string, scope?: string[] }): CreateOptions {
  if (values.name === undefined || values.name === '' || values.name.length > 100) throw new CliError('--name is required (1 to 100 characters)', EXIT_USAGE)
  if (values.type !== 'public' && values.type !== 'confidential') throw new CliError(`--type must be public or confidential (got "${values.type ?? ''}")`, EXIT_USAGE)
  const grants = (values.grant ?? []).flatMap((grant) => grant.split(','))
  if (grants.length === 0 || grants.some((grant) => !(GRANT_TYPES as readonly string[]).includes(grant))) {
    throw new CliError(`--grant must name one or more of ${GRANT_TYPES.join(', ')}`, EXIT_USAGE)
  }
  if (values.audience !== undefined && !/^[\x21-\x7e]{1,200}$/.test(values.audience)) throw new CliError('--audience must be 1 to 200 printable ASCII characters, no spaces', EXIT_USAGE)
  const badScope = (values.scope ?? []).find((scope) => !/^[\x21\x23-\x5b\x5d-\x7e]{1,100}$/.test(scope))
  if (badScope !== undefined) throw new CliError(`--scope "${badScope}" is not a scope token (RFC 6749 §3.3: printable ASCII, no spaces, quotes or backslashes)`, EXIT_USAGE)
  return { name: values.name, type: values.type, grant_types: [...new Set(grants)] as GrantType[], ...(values.audience === undefined ? {} : { audience: values.audience }), scopes: values.scope ?? [] }
}

function clientText (client: ClientRow, secret: string | null, json: boolean): string {
  const read = toClientRead(client)
  if (json) return `${JSON.stringify(secret === null ? read : { ...read, client_secret: secret })}\n`
  const line = [read.client_id, read.name, read.type, read.grant_types.join(','), read.disabled ? 'disabled' : 'enabled'].join('\t')
  return secret === null ? `${line}\n` : `${line}\nclient_secret=${secret}\n`
}
