import t from 'tap'
import { bearer, buildApp, isProblem, registerAccount } from '../helper.js'
import { decodeJwt, signRs256 } from './jwt-forge.js'

const ME = '/api/v1/users/me'

/**
 * Tokens signed with the service's own key but with claims it never issues: what a leaked key
 * would let someone mint. Every verifier (the bearer gate, introspection, revocation) refuses them.
 */
t.test('every verifier refuses a well-signed token with claims this service never issues', async (t) => {
  const { app, config } = await buildApp(t)
  const account = await registerAccount(app)
  const service = await registerAccount(app)
  await app.db.updateTable('users').set({ roles: ['service'] }).where('id', '=', service.id).execute()
  const serviceLogin = await app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { login: service.username, password: service.password } })
  const serviceToken = serviceLogin.json<{ access_token: string }>().access_token
  const key = await app.db.selectFrom('signing_keys').selectAll().executeTakeFirstOrThrow()
  const { header, payload } = decodeJwt(account.accessToken)
  const lifetime = config.jwt.expireMinutes * 60
  const now = Math.floor(Date.now() / 1000)

  const forge = (changes: Record<string, unknown>, drop: string[] = []): string => {
    const claims: Record<string, unknown> = { ...payload, iat: now, exp: now + lifetime, ...changes }
    for (const name of drop) delete claims[name]
    return signRs256(header, claims, key.private_key)
  }
  const introspect = async (token: string) => app.inject({
    method: 'POST', url: '/api/v1/auth/introspect', headers: bearer(serviceToken), payload: { token }
  })
  const sessionLive = async () => {
    const session = await app.db.selectFrom('sessions').select('revoked_at').where('id', '=', String(payload.sid)).executeTakeFirstOrThrow()
    return session.revoked_at === null
  }

  const cases: Array<[string, string]> = [
    ['without iss', forge({}, ['iss'])],
    ['without aud', forge({}, ['aud'])],
    ['without sid', forge({}, ['sid'])],
    ['without jti', forge({}, ['jti'])],
    ['without iat', forge({}, ['iat'])],
    ['with exp in 2100', forge({ exp: 4102444800 })],
    ['with a lifetime one second longer than configured', forge({ exp: now + lifetime + 1 })],
    ['with iat an hour ahead', forge({ iat: now + 3600, exp: now + 3600 + lifetime })],
    ['with iat 61 seconds ahead (beyond the 60 s skew)', forge({ iat: now + 61 + 5, exp: now + 66 + 60 })],
    ['with a sid that is not a session id', forge({ sid: 'everything' })]
  ]
  for (const [name, token] of cases) {
    const response = await app.inject({ method: 'GET', url: ME, headers: bearer(token) })
    t.equal(response.statusCode, 401, `/users/me refuses a token ${name}`)
    t.ok(isProblem(response))
    t.equal(response.json().code, 'invalid_token', name)
    t.match(response.headers['www-authenticate'], /^Bearer .*error="invalid_token"/)
    t.same((await introspect(token)).json(), { active: false }, `introspection: a token ${name} is not active`)
    const revoke = await app.inject({ method: 'POST', url: '/api/v1/auth/revoke', payload: { token, token_type_hint: 'access_token' } })
    t.equal(revoke.statusCode, 200, 'revocation answers 200 whatever the token (RFC 7009)')
    t.ok(await sessionLive(), `revocation ignores a token ${name}: the session goes on`)
  }

  t.test('the controls: a forge with issued claims passes, and a small clock skew is tolerated', async (t) => {
    for (const token of [forge({}), forge({ iat: now + 30, exp: now + 30 + lifetime })]) {
      t.equal((await app.inject({ method: 'GET', url: ME, headers: bearer(token) })).statusCode, 200)
      t.equal((await introspect(token)).json().active, true)
    }
    const revoke = await app.inject({ method: 'POST', url: '/api/v1/auth/revoke', payload: { token: forge({}), token_type_hint: 'access_token' } })
    t.equal(revoke.statusCode, 200)
    t.notOk(await sessionLive(), 'a token with issued claims does end its session')
  })
})
