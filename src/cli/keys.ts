import { parseArgs } from 'node:util'
import type { Kysely } from 'kysely'
import { isAsymmetric, isSealed, KeyEncryption, type AsymmetricAlgorithm } from '../auth/keys/key-material.js'
import { retireKey, retirementGraceSeconds, rotateKey } from '../auth/keys/key-rotation.js'
import { listKeys } from '../auth/keys/signing-keys.repository.js'
import { CLI_SOURCE } from '../audit/events.js'
import type { Config } from '../config.js'
import type { Database, SigningKeyRow } from '../db/types.js'
import { CliError, configFor, ensureMigrated, EXIT_OK, EXIT_USAGE, usageError, withDatabase, type CliIo, type CliOptions } from './common.js'

const KID_PATTERN = /^[A-Za-z0-9_-]{1,128}$/
/** The service's kids are RFC 7638 thumbprints: 43 base64url characters, and 1 in 64 starts with "-". */
const THUMBPRINT_PATTERN = /^[A-Za-z0-9_-]{43}$/

/** `keys list [--json] | rotate | retire KID [--now]`. */
export async function keysCommand (args: string[], io: CliIo, options: CliOptions): Promise<number> {
  const [subcommand, ...rest] = args
  if (subcommand !== 'list' && subcommand !== 'rotate' && subcommand !== 'retire') {
    throw usageError(subcommand === undefined ? 'keys needs a subcommand: list, rotate or retire' : `unknown keys subcommand "${subcommand}"`)
  }
  // A thumbprint that starts with "-" is still a key id, not an option: pass it as a positional.
  const kids = rest.filter((arg) => THUMBPRINT_PATTERN.test(arg))
  const { values, positionals } = parseArgs({
    args: [...rest.filter((arg) => !THUMBPRINT_PATTERN.test(arg)), '--', ...kids],
    options: subcommand === 'list' ? { json: { type: 'boolean', default: false } } : subcommand === 'retire' ? { now: { type: 'boolean', default: false } } : {},
    allowPositionals: true,
    strict: true
  })
  const kid = subcommand === 'retire' ? positionals.shift() : undefined
  if (subcommand === 'retire' && kid === undefined) throw usageError('keys retire needs the KID of the key (see "keys list")')
  if (positionals.length > 0) throw usageError(`unexpected argument "${positionals[0] ?? ''}"`)
  if (kid !== undefined && !KID_PATTERN.test(kid)) throw new CliError(`"${kid}" is not a key id`, EXIT_USAGE)

  const config = configFor(io, options)
  const algorithm = config.jwt.algorithm
  if (!isAsymmetric(algorithm)) {
    throw new CliError('JWT_ALGORITHM=HS256 signs with JWT_SECRET_KEY: there are no stored keys to list, rotate or retire', EXIT_USAGE)
  }
  return withDatabase(config, io, async ({ db }) => {
    await ensureMigrated(db, config, io)
    if (subcommand === 'list') return list(db, io, values.json === true)
    if (subcommand === 'rotate') return rotate(db, config, algorithm, io)
    return retire(db, config, kid ?? '', values.now === true, io)
  })
}

function describe (row: SigningKeyRow): Record<string, unknown> {
  const now = Date.now()
  const verifies = row.status === 'active' || (row.not_after !== null && row.not_after.getTime() > now)
  return {
    kid: row.kid,
    algorithm: row.algorithm,
    status: row.status,
    verifies,
    encrypted: isSealed(row.private_key),
    created_at: row.created_at.toISOString(),
    activated_at: row.activated_at.toISOString(),
    retired_at: row.retired_at?.toISOString() ?? null,
    not_after: row.not_after?.toISOString() ?? null
  }
}

async function list (db: Kysely<Database>, io: CliIo, json: boolean): Promise<number> {
  const keys = (await listKeys(db)).map(describe)
  if (json) {
    io.stdout.write(`${JSON.stringify(keys, null, 2)}\n`)
    return EXIT_OK
  }
  if (keys.length === 0) io.stdout.write('no keys yet (the service makes one when it first signs a token)\n')
  for (const key of keys) {
    const state = key.status === 'active' ? 'active ' : key.verifies === true ? 'retired (verifies until ' + String(key.not_after) + ')' : 'retired (expired)'
    io.stdout.write(`${String(key.kid)}  ${String(key.algorithm)}  ${state}  activated ${String(key.activated_at)}${key.encrypted === true ? '  encrypted' : ''}\n`)
  }
  return EXIT_OK
}

async function rotate (db: Kysely<Database>, config: Config, algorithm: AsymmetricAlgorithm, io: CliIo): Promise<number> {
  const grace = retirementGraceSeconds(config.jwt.expireMinutes)
  const { kid, retired } = await rotateKey(db, algorithm, new KeyEncryption(config.keys.encryptionKey), grace, CLI_SOURCE)
  io.stdout.write(`new signing key ${kid} (${algorithm})\n`)
  for (const old of retired) io.stdout.write(`retired ${old}: still verifies for ${grace} s (the longest token lifetime)\n`)
  if (config.keys.encryptionKey === null) io.stderr.write('user-service: warning: KEYS_ENCRYPTION_KEY is not set; the private key is stored unencrypted\n')
  return EXIT_OK
}

async function retire (db: Kysely<Database>, config: Config, kid: string, now: boolean, io: CliIo): Promise<number> {
  const grace = retirementGraceSeconds(config.jwt.expireMinutes)
  const result = await retireKey(db, kid, { graceSeconds: grace, immediately: now })
  if (result.outcome === 'unknown') throw new CliError(`no key ${kid} (see "user-service keys list")`)
  if (result.outcome === 'active_signer') throw new CliError(`${kid} is the key tokens are signed with: run "user-service keys rotate" first`)
  const until = result.key.not_after?.toISOString() ?? ''
  io.stdout.write(now ? `retired ${kid}: no longer verifies\n` : `retired ${kid}: verifies and stays in the JWKS until ${until}\n`)
  return EXIT_OK
}
