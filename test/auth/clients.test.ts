import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import t from 'tap'
import { bearer, buildApp, registerAccount } from '../helper.js'
import { asAdmin, registerAdmin } from '../admin/helpers.js'

const FORM = { 'content-type': 'application/x-www-form-urlencoded' }

function basic (id: string, secret: string): Record<string, string> {
  return { authorization: `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}` }
}

async function token (app: FastifyInstance, form: string, headers: Record<string, string> = {}): Promise<LightMyRequestResponse> {
  return app.inject({ method: 'POST', url: '/api/v1/auth/token', headers: { ...FORM, ...headers }, payload: form })
}

function claimsOf (jwt: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(jwt.split('.')[1] ?? '', 'base64url').toString('utf8')) as Record<string, unknown>
}

interface Registered { client_id: string, client_secret: string }

async function registerClient (app: FastifyInstance, body: object): Promise<Registered> {
  const admin = await registerAdmin(app)
  const response = await asAdmin(app, admin, { method: 'POST', url: '/clients', payload: body })
  if (response.statusCode !== 201) throw new Error(response.body)
  return response.json<Registered>()
}

const ORDERS = { name: 'orders-service', type: 'confidential', grant_types: ['client_credentials'], audience: 'orders', scopes: ['orders:read', 'revocations:read'] }

t.test('client_credentials: a confidential client gets a token for its audience, with basic or post authentication', async (t) => {
  const { app } = await buildApp(t)
  const client = await registerClient(app, ORDERS)
  const viaBasic = await token(app, 'grant_type=client_credentials', basic(client.client_id, client.client_secret))
  t.equal(viaBasic.statusCode, 200)
  const body = viaBasic.json<{ access_token: string, token_type: string, expires_in: number, scope: string }>()
  t.match(body, { token_type: 'bearer', expires_in: 900, scope: 'orders:read revocations:read' })
  t.notOk('refresh_token' in body, 'no refresh token (RFC 6749 §4.4.3)')
  const claims = claimsOf(body.access_token)
  t.match(claims, { sub: client.client_id, client_id: client.client_id, aud: 'orders', scope: 'orders:read revocations:read', iss: 'http://user-service.test' })
  t.notOk('sid' in claims, 'no session')
  t.equal(viaBasic.headers['cache-control'], 'no-store')

  const viaPost = await token(app, `grant_type=client_credentials&client_id=${client.client_id}&client_secret=${client.client_secret}&scope=orders:read`)
  t.equal(viaPost.statusCode, 200)
  t.equal(viaPost.json<{ scope: string }>().scope, 'orders:read', 'a subset of its scopes when it asks')
  const tooMuch = await token(app, 'grant_type=client_credentials&scope=orders:read%20admin', basic(client.client_id, client.client_secret))
  t.equal(tooMuch.statusCode, 400)
  t.match(tooMuch.json(), { error: 'invalid_scope', error_description: 'this client may not ask for: admin' })
  t.equal((await token(app, 'grant_type=password&username=x&password=y', basic(client.client_id, client.client_secret))).json<{ error: string }>().error,
    'unauthorized_client', 'a grant the client was not given')
  const both = await token(app, `grant_type=client_credentials&client_secret=${client.client_secret}`, basic(client.client_id, client.client_secret))
  t.match(both.json(), { error: 'invalid_request' }, 'one authentication method at a time')
})

t.test('a confidential client with a wrong, missing, rotated or disabled secret gets 401 invalid_client with a Basic challenge', async (t) => {
  const { app } = await buildApp(t)
  const admin = await registerAdmin(app)
  const client = (await asAdmin(app, admin, { method: 'POST', url: '/clients', payload: ORDERS })).json<Registered>()
  const refusals = [
    await token(app, 'grant_type=client_credentials', basic(client.client_id, 'wrong')),
    await token(app, `grant_type=client_credentials&client_id=${client.client_id}`),
    await token(app, 'grant_type=client_credentials', basic(client.client_id.toUpperCase(), 'wrong'))
  ]
  await asAdmin(app, admin, { method: 'POST', url: `/clients/${client.client_id}/secret` })
  refusals.push(await token(app, 'grant_type=client_credentials', basic(client.client_id, client.client_secret)))
  for (const response of refusals) {
    t.equal(response.statusCode, 401)
    t.equal(response.json<{ error: string }>().error, 'invalid_client')
    t.match(response.headers['www-authenticate'], /^Basic realm=/)
  }
  const rotated = (await asAdmin(app, admin, { method: 'POST', url: `/clients/${client.client_id}/secret` })).json<Registered>()
  t.equal((await token(app, 'grant_type=client_credentials', basic(client.client_id, rotated.client_secret))).statusCode, 200, 'the new secret works')
  await asAdmin(app, admin, { method: 'PATCH', url: `/clients/${client.client_id}`, payload: { disabled: true } })
  t.equal((await token(app, 'grant_type=client_credentials', basic(client.client_id, rotated.client_secret))).statusCode, 401, 'a disabled client')
})

t.test('wrong client secrets are throttled like wrong passwords', async (t) => {
  const { app } = await buildApp(t, { env: { RATE_LIMIT_ENABLED: 'true', RATE_LIMIT_SIGNIN_MAX: '1000', LOGIN_MAX_FAILURES: '2' } })
  const client = await registerClient(app, ORDERS)
  const statuses: number[] = []
  for (const secret of ['guess 1', 'guess 2', client.client_secret]) statuses.push((await token(app, 'grant_type=client_credentials', basic(client.client_id, secret))).statusCode)
  t.same(statuses, [401, 401, 429], 'the right secret waits too once the limit is reached')
})

t.test('public clients and unregistered ids ignore whatever secret is sent (simple-oauth2, authlib, Swagger UI defaults)', async (t) => {
  const { app } = await buildApp(t)
  const account = await registerAccount(app)
  const password = `grant_type=password&username=${account.username}&password=${encodeURIComponent(account.password)}`
  const spa = await registerClient(app, { name: 'spa', type: 'public', grant_types: ['password', 'refresh_token'] })
  for (const headers of [basic('my-app', 'undefined'), basic('my-app', 'None'), basic(spa.client_id, 'undefined'), basic('', '')]) {
    const response = await token(app, password, headers)
    t.equal(response.statusCode, 200, headers.authorization ?? '')
  }
  t.equal((await token(app, `${password}&client_id=unknown&client_secret=whatever`)).statusCode, 200)
  const publicCredentials = await token(app, 'grant_type=client_credentials', basic('my-app', 'undefined'))
  t.equal(publicCredentials.statusCode, 400)
  t.match(publicCredentials.json(), { error: 'unauthorized_client', error_description: /confidential client/ })
})

t.test('introspection and revocation take a confidential client\'s credentials', async (t) => {
  const { app } = await buildApp(t)
  const client = await registerClient(app, { ...ORDERS, grant_types: ['client_credentials'] })
  const spa = await registerClient(app, { name: 'spa', type: 'public', grant_types: ['password'] })
  const account = await registerAccount(app)
  const introspect = (headers: Record<string, string>, extra = ''): Promise<LightMyRequestResponse> =>
    app.inject({ method: 'POST', url: '/api/v1/auth/introspect', headers: { ...FORM, ...headers }, payload: `token=${account.accessToken}${extra}` })
  t.match((await introspect(basic(client.client_id, client.client_secret))).json(), { active: true, sub: account.id })
  t.match((await introspect({}, `&client_id=${client.client_id}&client_secret=${client.client_secret}`)).json(), { active: true })
  for (const [name, headers] of [['wrong secret', basic(client.client_id, 'wrong')], ['public client', basic(spa.client_id, '')], ['unregistered', basic('x', 'y')]] as const) {
    const refused = await introspect(headers)
    t.equal(refused.statusCode, 401, name)
    t.equal(refused.json<{ error: string }>().error, 'invalid_client', name)
  }
  t.match((await introspect({})).json(), { error: 'invalid_token' }, 'no credentials at all: as before')
  t.equal((await introspect(bearer(account.accessToken))).statusCode, 403, 'a bearer token still needs the role')

  const revoke = (headers: Record<string, string>): Promise<LightMyRequestResponse> =>
    app.inject({ method: 'POST', url: '/api/v1/auth/revoke', headers: { ...FORM, ...headers }, payload: `token=${account.accessToken}` })
  t.equal((await revoke(basic(client.client_id, 'wrong'))).statusCode, 401, 'a confidential client that authenticates must do it right')
  t.equal((await revoke(basic(client.client_id, client.client_secret))).statusCode, 200)
  t.match((await introspect(basic(client.client_id, client.client_secret))).json(), { active: false }, 'revoked')
})

t.test('introspection: a client\'s own client_credentials token is active while its client is enabled (RFC 7662)', async (t) => {
  const { app } = await buildApp(t)
  const client = await registerClient(app, ORDERS)
  const own = (await token(app, 'grant_type=client_credentials&scope=orders:read', basic(client.client_id, client.client_secret))).json<{ access_token: string }>().access_token
  const introspect = async (subject: string): Promise<Record<string, unknown>> => (await app.inject({
    method: 'POST', url: '/api/v1/auth/introspect', headers: { ...FORM, ...basic(client.client_id, client.client_secret) }, payload: `token=${subject}`
  })).json()
  const active = await introspect(own)
  t.match(active, { active: true, sub: client.client_id, client_id: client.client_id, aud: 'orders', scope: 'orders:read', token_type: 'Bearer' }, 'any audience it was registered with')
  t.notOk('username' in active || 'roles' in active || 'sid' in active, 'no account, no session')
  const forged = `${own.slice(0, -4)}AAAA`
  t.same(await introspect(forged), { active: false }, 'a bad signature')
  await app.db.updateTable('oauth_clients').set({ disabled: true }).where('client_id', '=', client.client_id).execute()
  const other = await registerClient(app, { ...ORDERS, name: 'billing' })
  const asOther = await app.inject({
    method: 'POST', url: '/api/v1/auth/introspect', headers: { ...FORM, ...basic(other.client_id, other.client_secret) }, payload: `token=${own}`
  })
  t.same(asOther.json(), { active: false }, 'inactive once its client is disabled')
})

t.test('the metadata lists the grants and the client authentication methods', async (t) => {
  const { app } = await buildApp(t)
  const metadata = (await app.inject({ method: 'GET', url: '/.well-known/oauth-authorization-server' })).json()
  t.match(metadata, {
    grant_types_supported: ['password', 'refresh_token', 'client_credentials'],
    token_endpoint_auth_methods_supported: ['none', 'client_secret_basic', 'client_secret_post'],
    revocation_endpoint_auth_methods_supported: ['none', 'client_secret_basic', 'client_secret_post'],
    introspection_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post', 'bearer']
  })
})
