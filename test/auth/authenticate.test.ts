import type { FastifyInstance } from 'fastify'
import t, { type Test } from 'tap'
import { bearer, buildApp, isProblem, registerAccount, type Account } from '../helper.js'
import { decodeJwt, signHs256, signRs256 } from './jwt-forge.js'

const ME = '/api/v1/users/me'

async function getMe (app: FastifyInstance, headers: Record<string, string>) {
  return app.inject({ method: 'GET', url: ME, headers })
}

async function currentKey (app: FastifyInstance) {
  return app.db.selectFrom('signing_keys').selectAll().orderBy('created_at', 'desc').executeTakeFirstOrThrow()
}

/** A payload that would be accepted, built from a real token, with `changes` applied. */
function claimsOf (account: Account, changes: Record<string, unknown> = {}): Record<string, unknown> {
  return { ...decodeJwt(account.accessToken).payload, ...changes }
}

function assertRefused (t: Test, response: Awaited<ReturnType<typeof getMe>>, code = 'invalid_token') {
  t.equal(response.statusCode, 401)
  t.ok(isProblem(response), 'problem+json')
  t.equal(response.json().code, code)
  t.match(response.headers['www-authenticate'], /^Bearer /)
}

t.test('the bearer token gate on protected endpoints', async (t) => {
  const { app } = await buildApp(t)
  const account = await registerAccount(app)
  const key = await currentKey(app)
  const header = decodeJwt(account.accessToken).header

  t.test('a valid token passes', async (t) => {
    const response = await getMe(app, bearer(account.accessToken))
    t.equal(response.statusCode, 200)
    t.equal(response.json().id, account.id)
  })

  t.test('no token', async (t) => {
    const response = await getMe(app, {})
    assertRefused(t, response, 'not_authenticated')
    t.equal(response.headers['www-authenticate'], 'Bearer realm="user-service"')
  })

  t.test('a malformed token', async (t) => {
    assertRefused(t, await getMe(app, bearer('not-a-jwt')))
    assertRefused(t, await getMe(app, bearer(`${account.accessToken}.extra`)))
    // No bearer credentials at all: RFC 6750 §3.1 says no error code then.
    assertRefused(t, await getMe(app, { authorization: 'Bearer' }), 'not_authenticated')
    assertRefused(t, await getMe(app, { authorization: `Basic ${account.accessToken}` }), 'not_authenticated')
  })

  t.test('a bad signature', async (t) => {
    const [h, p, s] = account.accessToken.split('.') as [string, string, string]
    const flipped = s.startsWith('A') ? `B${s.slice(1)}` : `A${s.slice(1)}`
    assertRefused(t, await getMe(app, bearer(`${h}.${p}.${flipped}`)))
    // Same signature, changed claims (roles escalated).
    const escalated = Buffer.from(JSON.stringify(claimsOf(account, { roles: ['admin'] }))).toString('base64url')
    assertRefused(t, await getMe(app, bearer(`${h}.${escalated}.${s}`)))
  })

  t.test('alg none', async (t) => {
    const unsigned = `${Buffer.from(JSON.stringify({ alg: 'none', typ: 'at+jwt' })).toString('base64url')}.${Buffer.from(JSON.stringify(claimsOf(account))).toString('base64url')}.`
    assertRefused(t, await getMe(app, bearer(unsigned)))
  })

  t.test('HS256 forged with the RS256 public key as the secret', async (t) => {
    const forged = signHs256({ alg: 'HS256', typ: 'at+jwt', kid: header.kid }, claimsOf(account), key.public_key)
    assertRefused(t, await getMe(app, bearer(forged)))
  })

  t.test('expired', async (t) => {
    const now = Math.floor(Date.now() / 1000)
    const expired = signRs256(header, claimsOf(account, { iat: now - 3600, exp: now - 60 }), key.private_key)
    const response = await getMe(app, bearer(expired))
    assertRefused(t, response, 'token_expired')
    t.match(response.headers['www-authenticate'], /error="invalid_token"/)
  })

  t.test('not yet valid (nbf in the future)', async (t) => {
    const early = signRs256(header, claimsOf(account, { nbf: Math.floor(Date.now() / 1000) + 3600 }), key.private_key)
    assertRefused(t, await getMe(app, bearer(early)))
  })

  t.test('wrong issuer, audience or typ', async (t) => {
    assertRefused(t, await getMe(app, bearer(signRs256(header, claimsOf(account, { iss: 'https://evil.example' }), key.private_key))))
    assertRefused(t, await getMe(app, bearer(signRs256(header, claimsOf(account, { aud: 'orders-service' }), key.private_key))))
    assertRefused(t, await getMe(app, bearer(signRs256({ ...header, typ: 'JWT' }, claimsOf(account), key.private_key))))
    // The control: the same forge with nothing changed is accepted, so the refusals above are about the claims.
    t.equal((await getMe(app, bearer(signRs256(header, claimsOf(account), key.private_key)))).statusCode, 200)
  })

  t.test('an unknown or missing kid', async (t) => {
    assertRefused(t, await getMe(app, bearer(signRs256({ ...header, kid: 'no-such-key' }, claimsOf(account), key.private_key))))
    const { kid: _kid, ...withoutKid } = header
    assertRefused(t, await getMe(app, bearer(signRs256(withoutKid, claimsOf(account), key.private_key))))
  })

  t.test('a sub that is not a user id', async (t) => {
    assertRefused(t, await getMe(app, bearer(signRs256(header, claimsOf(account, { sub: 'admin' }), key.private_key))))
  })

  t.test('a disabled user', async (t) => {
    const other = await registerAccount(app)
    await app.db.updateTable('users').set({ is_active: false }).where('id', '=', other.id).execute()
    assertRefused(t, await getMe(app, bearer(other.accessToken)))
  })

  t.test('a deleted user', async (t) => {
    const other = await registerAccount(app)
    await app.db.deleteFrom('users').where('id', '=', other.id).execute()
    assertRefused(t, await getMe(app, bearer(other.accessToken)))
  })
})

t.test('tokens survive a restart and work on a second instance on the same database', async (t) => {
  const first = await buildApp(t)
  const account = await registerAccount(first.app)
  const second = await buildApp(t, { database: first.database })
  t.equal((await getMe(second.app, bearer(account.accessToken))).statusCode, 200)
  const keys = await first.app.db.selectFrom('signing_keys').select('kid').execute()
  t.equal(keys.length, 1, 'the second instance reused the stored key instead of making its own')
  const fromSecond = await second.app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { login: account.username, password: account.password } })
  t.equal((await getMe(first.app, bearer(fromSecond.json().access_token))).statusCode, 200)
})

t.test('HS256 with a shared secret', async (t) => {
  const secret = 'a-shared-secret-of-at-least-32-bytes!!'
  const { app } = await buildApp(t, { env: { JWT_ALGORITHM: 'HS256', JWT_SECRET_KEY: secret } })
  const account = await registerAccount(app)
  const { header } = decodeJwt(account.accessToken)
  t.equal(header.alg, 'HS256')
  t.equal(header.typ, 'at+jwt')
  t.equal((await getMe(app, bearer(account.accessToken))).statusCode, 200)
  assertRefused(t, await getMe(app, bearer(signHs256(header, claimsOf(account), 'another-secret-of-at-least-32-bytes!!'))))
  const stored = await app.db.selectFrom('signing_keys').select('kid').execute()
  t.equal(stored.length, 0, 'no RSA key is made in HS256 mode')
})
