import type { FastifyInstance } from 'fastify'
import t from 'tap'
import { bearer, buildApp, registerAccount, type Account } from '../helper.js'
import { decodeJwt, signRs256 } from './jwt-forge.js'

const URL = '/api/v1/auth/introspect'

async function introspect (app: FastifyInstance, caller: string | null, body: Record<string, string>, json = false) {
  return app.inject({
    method: 'POST',
    url: URL,
    headers: {
      ...(caller === null ? {} : bearer(caller)),
      'content-type': json ? 'application/json' : 'application/x-www-form-urlencoded'
    },
    payload: json ? JSON.stringify(body) : new URLSearchParams(body).toString()
  })
}

async function withRoles (app: FastifyInstance, account: Account, roles: string[]): Promise<string> {
  await app.db.updateTable('users').set({ roles }).where('id', '=', account.id).execute()
  const response = await app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { login: account.username, password: account.password } })
  return response.json<{ access_token: string }>().access_token
}

t.test('token introspection (RFC 7662)', async (t) => {
  const { app, config } = await buildApp(t)
  const serviceAccount = await registerAccount(app)
  const service = await withRoles(app, serviceAccount, ['service'])
  const admin = await withRoles(app, await registerAccount(app), ['user', 'admin'])
  const subject = await registerAccount(app)

  t.test('an active access token, form-encoded', async (t) => {
    const response = await introspect(app, service, { token: subject.accessToken, token_type_hint: 'access_token' })
    t.equal(response.statusCode, 200)
    t.equal(response.headers['cache-control'], 'no-store')
    const claims = decodeJwt(subject.accessToken).payload
    t.match(response.json(), {
      active: true,
      sub: subject.id,
      username: subject.username,
      roles: ['user'],
      token_type: 'Bearer',
      iss: config.jwt.issuer,
      aud: 'user-service',
      client_id: claims.client_id,
      exp: claims.exp,
      iat: claims.iat,
      jti: claims.jti
    })
  })

  t.test('the token of an ended session is inactive at once', async (t) => {
    const other = await registerAccount(app)
    t.equal((await introspect(app, service, { token: other.accessToken })).json().active, true)
    const logout = await app.inject({ method: 'POST', url: '/api/v1/auth/logout', headers: bearer(other.accessToken) })
    t.equal(logout.statusCode, 204)
    t.same((await introspect(app, service, { token: other.accessToken })).json(), { active: false })
  })

  t.test('JSON works too, and an admin may call it', async (t) => {
    const response = await introspect(app, admin, { token: subject.accessToken }, true)
    t.equal(response.statusCode, 200)
    t.equal(response.json().active, true)
  })

  t.test('inactive: garbage, forged, expired, other audience, disabled or deleted account', async (t) => {
    const inactive = async (token: string, label: string) => {
      const response = await introspect(app, service, { token })
      t.equal(response.statusCode, 200, label)
      t.same(response.json(), { active: false }, label)
    }
    await inactive('not-a-jwt', 'garbage')
    const { header, payload } = decodeJwt(subject.accessToken)
    const key = await app.db.selectFrom('signing_keys').selectAll().where('kid', '=', header.kid as string).executeTakeFirstOrThrow()
    const now = Math.floor(Date.now() / 1000)
    await inactive(signRs256(header, { ...payload, iat: now - 3600, exp: now - 60 }, key.private_key), 'expired')
    await inactive(signRs256(header, { ...payload, aud: 'orders' }, key.private_key), 'another audience')
    await inactive(signRs256({ ...header, kid: 'unknown' }, payload, key.private_key), 'unknown kid')
    const [h, p, s] = subject.accessToken.split('.') as [string, string, string]
    await inactive(`${h}.${p}.${s.startsWith('A') ? 'B' : 'A'}${s.slice(1)}`, 'bad signature')
    await inactive('refresh-token-looking-string', 'unknown refresh token')

    const disabled = await registerAccount(app)
    await app.db.updateTable('users').set({ is_active: false }).where('id', '=', disabled.id).execute()
    await inactive(disabled.accessToken, 'disabled account')
    const deleted = await registerAccount(app)
    await app.db.deleteFrom('users').where('id', '=', deleted.id).execute()
    await inactive(deleted.accessToken, 'deleted account')
  })

  t.test('callers: no token → 401, a plain user → 403, RFC 6749-style bodies', async (t) => {
    const anonymous = await introspect(app, null, { token: subject.accessToken })
    t.equal(anonymous.statusCode, 401)
    t.equal(anonymous.json().error, 'invalid_token')
    t.match(anonymous.headers['www-authenticate'], /^Bearer realm=/)

    const badCaller = await introspect(app, 'not-a-jwt', { token: subject.accessToken })
    t.equal(badCaller.statusCode, 401)
    t.match(badCaller.headers['www-authenticate'], /error="invalid_token"/)

    const user = await introspect(app, subject.accessToken, { token: subject.accessToken })
    t.equal(user.statusCode, 403)
    t.equal(user.json().error, 'insufficient_scope')
    t.match(user.headers['www-authenticate'], /error="insufficient_scope"/)
  })

  t.test('a missing token is invalid_request', async (t) => {
    const response = await introspect(app, service, {})
    t.equal(response.statusCode, 400)
    t.equal(response.json().error, 'invalid_request')
  })

  t.test('the service role exists in the database', async (t) => {
    const row = await app.db.selectFrom('users').select('roles').where('id', '=', serviceAccount.id).executeTakeFirst()
    t.same(row?.roles, ['service'])
    await t.rejects(app.db.updateTable('users').set({ roles: ['superuser'] }).where('id', '=', subject.id).execute(), 'unknown roles still refused')
  })
})
