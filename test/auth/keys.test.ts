import { createPublicKey, type JsonWebKey } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import { createVerifier } from 'fast-jwt'
import type { FastifyInstance } from 'fastify'
import t from 'tap'
import { CLI_SOURCE } from '../../src/audit/events.js'
import { KeyEncryption } from '../../src/auth/keys/key-material.js'
import { retireKey, rotateKey } from '../../src/auth/keys/key-rotation.js'
import { loadConfig } from '../../src/config.js'
import { LogCapture, bearer, buildApp, registerAccount } from '../helper.js'
import { decodeJwt, signRs256 } from './jwt-forge.js'

const ME = '/api/v1/users/me'
const ENCRYPTION_KEY = 'test-only-encryption-key-of-32-characters!'

interface Jwks { keys: Array<Record<string, string>> }

async function jwks (app: FastifyInstance): Promise<Jwks> {
  const response = await app.inject({ method: 'GET', url: '/.well-known/jwks.json' })
  if (response.statusCode !== 200) throw new Error(`jwks: ${response.statusCode} ${response.body}`)
  return response.json<Jwks>()
}

/** Verifies a token the way another service would: with the published JWK only. */
function verifyWithJwk (token: string, jwk: Record<string, string>, issuer: string): Record<string, unknown> {
  const key = createPublicKey({ key: jwk as JsonWebKey, format: 'jwk' }).export({ type: 'spki', format: 'pem' }).toString()
  return createVerifier({ key, algorithms: [jwk.alg as 'RS256'], allowedIss: issuer, allowedAud: 'user-service', checkTyp: 'at+jwt' })(token) as Record<string, unknown>
}

async function login (app: FastifyInstance, account: { username: string, password: string }): Promise<string> {
  const response = await app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { login: account.username, password: account.password } })
  return response.json<{ access_token: string }>().access_token
}

const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'k', 'oth']

for (const [algorithm, kty, extra] of [['RS256', 'RSA', ['n', 'e']], ['ES256', 'EC', ['crv', 'x', 'y']], ['EdDSA', 'OKP', ['crv', 'x']]] as const) {
  t.test(`${algorithm}: the JWKS publishes the public key that verifies the tokens`, async (t) => {
    const { app, config } = await buildApp(t, { env: { JWT_ALGORITHM: algorithm } })
    const account = await registerAccount(app)
    const { header } = decodeJwt(account.accessToken)
    t.equal(header.alg, algorithm)
    t.equal((await app.inject({ method: 'GET', url: ME, headers: bearer(account.accessToken) })).statusCode, 200)

    const response = await app.inject({ method: 'GET', url: '/.well-known/jwks.json' })
    t.equal(response.statusCode, 200)
    t.match(response.headers['cache-control'], /max-age=\d+/)
    const { keys } = response.json<Jwks>()
    t.equal(keys.length, 1)
    const [jwk] = keys as [Record<string, string>]
    t.same(Object.keys(jwk).sort(), ['kty', 'kid', 'alg', 'use', ...extra].sort())
    t.match(jwk, { kty, kid: header.kid, alg: algorithm, use: 'sig' })
    if (algorithm === 'ES256') t.equal(jwk.crv, 'P-256')
    if (algorithm === 'EdDSA') t.equal(jwk.crv, 'Ed25519')
    for (const member of PRIVATE_MEMBERS) t.notOk(member in jwk, `no private member ${member}`)
    t.equal(verifyWithJwk(account.accessToken, jwk, config.jwt.issuer).sub, account.id)
  })
}

t.test('HS256: the JWKS is empty (a shared secret is never published)', async (t) => {
  const secret = 'a-shared-secret-of-at-least-32-bytes!!'
  const { app } = await buildApp(t, { env: { JWT_ALGORITHM: 'HS256', JWT_SECRET_KEY: secret } })
  await registerAccount(app)
  const { keys } = await jwks(app)
  t.same(keys, [])
  const raw = (await app.inject({ method: 'GET', url: '/.well-known/jwks.json' })).body
  t.notMatch(raw, secret)
})

t.test('authorization server metadata (RFC 8414)', async (t) => {
  const { app } = await buildApp(t)
  const response = await app.inject({ method: 'GET', url: '/.well-known/oauth-authorization-server' })
  t.equal(response.statusCode, 200)
  t.match(response.headers['cache-control'], /max-age=/)
  const metadata = response.json<Record<string, unknown>>()
  t.match(metadata, {
    issuer: 'http://user-service.test',
    token_endpoint: 'http://user-service.test/api/v1/auth/token',
    jwks_uri: 'http://user-service.test/.well-known/jwks.json',
    introspection_endpoint: 'http://user-service.test/api/v1/auth/introspect',
    token_endpoint_auth_methods_supported: ['none'],
    response_types_supported: []
  })
  t.ok((metadata.grant_types_supported as string[]).includes('password'))
  const hasRevoke = app.hasRoute({ method: 'POST', url: '/api/v1/auth/revoke' })
  t.equal('revocation_endpoint' in metadata, hasRevoke, 'revocation_endpoint exactly when the route exists')
  if (hasRevoke) t.equal(metadata.revocation_endpoint, 'http://user-service.test/api/v1/auth/revoke')
})

t.test('private keys are encrypted at rest with KEYS_ENCRYPTION_KEY', async (t) => {
  const first = await buildApp(t, { env: { KEYS_ENCRYPTION_KEY: ENCRYPTION_KEY } })
  await registerAccount(first.app)
  const row = await first.app.db.selectFrom('signing_keys').selectAll().executeTakeFirstOrThrow()
  t.match(row.private_key, /^enc:v1:/)
  t.notMatch(row.private_key, /PRIVATE KEY/)
  t.equal(new KeyEncryption(ENCRYPTION_KEY).open(row.kid, row.private_key).startsWith('-----BEGIN PRIVATE KEY-----'), true)

  // An instance with another encryption key refuses to start, naming the variable.
  await t.rejects(buildApp(t, { database: first.database, env: { KEYS_ENCRYPTION_KEY: 'x'.repeat(40), LOG_LEVEL: 'silent' } }),
    { name: 'KeyDecryptionError', message: /signing key .* cannot be decrypted: KEYS_ENCRYPTION_KEY is not the key it was encrypted with/ })
  t.throws(() => new KeyEncryption('x'.repeat(40)).open(row.kid, row.private_key), /KEYS_ENCRYPTION_KEY is not the key/)
  t.throws(() => new KeyEncryption(null).open(row.kid, row.private_key), /set KEYS_ENCRYPTION_KEY/)
})

t.test('a key stored by an instance with another encryption key: 503 at login, verification goes on', async (t) => {
  const logs = new LogCapture()
  // Both start before any key exists; the first login of the other instance makes the key.
  const other = await buildApp(t, { env: { KEYS_ENCRYPTION_KEY: ENCRYPTION_KEY } })
  const misconfigured = await buildApp(t, { database: other.database, env: { KEYS_ENCRYPTION_KEY: 'x'.repeat(40) }, logs })
  const account = await registerAccount(other.app)
  const response = await misconfigured.app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { login: account.username, password: account.password } })
  t.equal(response.statusCode, 503)
  t.equal(response.json().code, 'service_unavailable')
  t.notMatch(response.body, /KEYS_ENCRYPTION_KEY/, 'the configuration stays out of the answer')
  t.match(logs.text, /KEYS_ENCRYPTION_KEY is not the key it was encrypted with/, 'and goes to the log')
  t.equal((await misconfigured.app.inject({ method: 'GET', url: ME, headers: bearer(account.accessToken) })).statusCode, 200, 'it still verifies')
  t.equal((await jwks(misconfigured.app)).keys.length, 1, 'and publishes')
})

t.test('KeyEncryption: round trip, bound to the kid, plain PEM passes through', async (t) => {
  const encryption = new KeyEncryption(ENCRYPTION_KEY)
  const sealed = encryption.seal('kid-1', 'secret pem')
  t.not(sealed, encryption.seal('kid-1', 'secret pem'), 'a fresh IV each time')
  t.equal(encryption.open('kid-1', sealed), 'secret pem')
  t.throws(() => encryption.open('kid-2', sealed), /cannot be decrypted/, 'moved to another row')
  t.throws(() => encryption.open('kid-1', 'enc:v1:abc'), /malformed/)
  t.equal(encryption.open('kid-1', '-----BEGIN PRIVATE KEY-----'), '-----BEGIN PRIVATE KEY-----')
  t.equal(new KeyEncryption(null).seal('kid-1', 'pem'), 'pem')
})

t.test('configuration: KEYS_ENCRYPTION_KEY length, required in production, algorithms', async (t) => {
  t.throws(() => loadConfig({ KEYS_ENCRYPTION_KEY: 'short' }), { message: /KEYS_ENCRYPTION_KEY must be at least 32/ })
  const production = { NODE_ENV: 'production', DATABASE_URL: 'postgres://db/app' }
  t.throws(() => loadConfig(production), { message: /KEYS_ENCRYPTION_KEY is required when NODE_ENV=production/ })
  t.equal(loadConfig({ ...production, KEYS_ENCRYPTION_KEY: ENCRYPTION_KEY }).keys.encryptionKey, ENCRYPTION_KEY)
  t.equal(loadConfig({ ...production, JWT_ALGORITHM: 'HS256', JWT_SECRET_KEY: 's'.repeat(32) }).isProduction, true, 'HS256 stores no keys')
  t.equal(loadConfig({ JWT_ALGORITHM: 'EdDSA' }).jwt.algorithm, 'EdDSA')
  t.throws(() => loadConfig({ JWT_ALGORITHM: 'RS512' }), { message: /JWT_ALGORITHM/ })
  t.throws(() => loadConfig({ KEYS_REFRESH_INTERVAL_MS: '120000' }), { message: /KEYS_REFRESH_INTERVAL_MS/ }, 'at most 60 s')
})

/** Polls `condition` until it holds. 60 s is a deadline for a stuck test, not a measurement: the refresh runs every 300 ms. */
async function eventually (what: string, condition: () => Promise<boolean>): Promise<number> {
  const started = Date.now()
  while (Date.now() - started < 60_000) {
    if (await condition()) return Date.now() - started
    await sleep(100)
  }
  throw new Error(`not within 60 s: ${what}`)
}

/** Waits until `app` signs with `kid` (its periodic refresh picked up a rotation). */
async function waitForSigningKid (app: FastifyInstance, account: { username: string, password: string }, kid: string): Promise<number> {
  return eventually(`signing with ${kid}`, async () => decodeJwt(await login(app, account)).header.kid === kid)
}

t.test('rotation: a second instance picks the new key up without a restart; old tokens keep working', async (t) => {
  const env = { KEYS_REFRESH_INTERVAL_MS: '300', JWT_EXPIRE_MINUTES: '5' }
  const first = await buildApp(t, { env })
  const second = await buildApp(t, { env, database: first.database })
  const account = await registerAccount(first.app)
  const oldToken = account.accessToken
  const oldKid = decodeJwt(oldToken).header.kid as string
  t.equal(decodeJwt(await login(second.app, account)).header.kid, oldKid, 'both sign with the one key')

  const { kid: newKid, retired } = await rotateKey(first.app.db, 'RS256', new KeyEncryption(null), 5 * 60 + 60, CLI_SOURCE)
  t.same(retired, [oldKid])
  const elapsed = await waitForSigningKid(second.app, account, newKid)
  t.pass(`the second instance picked the new key up by itself, ${elapsed} ms later`)
  await waitForSigningKid(first.app, account, newKid)

  for (const app of [first.app, second.app]) {
    t.equal((await app.inject({ method: 'GET', url: ME, headers: bearer(oldToken) })).statusCode, 200, 'the old token still verifies')
    t.equal((await app.inject({ method: 'GET', url: ME, headers: bearer(await login(app, account)) })).statusCode, 200)
    t.same((await jwks(app)).keys.map((key) => key.kid), [newKid, oldKid], 'both keys published, the signer first')
  }
  const oldRow = await first.app.db.selectFrom('signing_keys').selectAll().where('kid', '=', oldKid).executeTakeFirstOrThrow()
  t.equal(oldRow.status, 'retired')
  const grace = (oldRow.not_after?.getTime() ?? 0) - (oldRow.retired_at?.getTime() ?? 0)
  t.equal(grace, (5 * 60 + 60) * 1000, 'verifies for the token lifetime plus the refresh lag')

  t.test('retiring the signing key is refused; an unknown kid is reported', async (t) => {
    t.same(await retireKey(first.app.db, newKid, { graceSeconds: 60, immediately: false }), { outcome: 'active_signer' })
    t.same(await retireKey(first.app.db, 'nope', { graceSeconds: 60, immediately: false }), { outcome: 'unknown' })
  })

  t.test('once a retired key is past not_after it leaves the JWKS and its tokens are refused', async (t) => {
    const outcome = await retireKey(first.app.db, oldKid, { graceSeconds: 60, immediately: true })
    t.equal(outcome.outcome, 'retired')
    // Each instance's periodic refresh (300 ms) drops the key; waited for, not slept through.
    for (const app of [first.app, second.app]) {
      await eventually(`${oldKid} leaves the JWKS`, async () => !(await jwks(app)).keys.some((key) => key.kid === oldKid))
      t.same((await jwks(app)).keys.map((key) => key.kid), [newKid])
      const forged = signRs256(decodeJwt(oldToken).header, { ...decodeJwt(oldToken).payload, jti: 'fresh' }, await privatePem(app, oldKid))
      t.equal((await app.inject({ method: 'GET', url: ME, headers: bearer(forged) })).statusCode, 401)
      t.equal((await app.inject({ method: 'GET', url: ME, headers: bearer(oldToken) })).statusCode, 401, 'also once cached')
    }
  })
})

async function privatePem (app: FastifyInstance, kid: string): Promise<string> {
  const row = await app.db.selectFrom('signing_keys').select('private_key').where('kid', '=', kid).executeTakeFirstOrThrow()
  return row.private_key
}

t.test('the refresh timer stops when the app closes', async (t) => {
  const { app } = await buildApp(t, { env: { KEYS_REFRESH_INTERVAL_MS: '100' } })
  await registerAccount(app)
  t.equal(app.keyStore.refreshing, true)
  await app.close()
  t.equal(app.keyStore.refreshing, false)
})
