import { createPublicKey, verify } from 'node:crypto'
import t, { type Test } from 'tap'
import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import { bearer, buildApp, isProblem, registerAccount, type Account } from '../helper.js'

/**
 * The OAuth2 token endpoint (RFC 6749 §4.3, §5.1, §5.2) and the JSON login next to it.
 */

const TOKEN = '/api/v1/auth/token'
const LOGIN = '/api/v1/auth/login'
const FORM = { 'content-type': 'application/x-www-form-urlencoded' }

const { app, database } = await buildApp(t)
const db = database.handle.db
const account: Account = await registerAccount(app, { username: 'TokenUser', email: 'token.user@example.com' })
const disabled: Account = await registerAccount(app)
await db.updateTable('users').set({ is_active: false }).where('id', '=', disabled.id).execute()

function form (fields: Record<string, string> | Array<[string, string]>): string {
  return new URLSearchParams(fields).toString()
}

function tokenRequest (app: FastifyInstance, payload: string | Record<string, unknown>, headers: Record<string, string> = {}): Promise<LightMyRequestResponse> {
  return app.inject({
    method: 'POST',
    url: TOKEN,
    payload,
    headers: typeof payload === 'string' ? { ...FORM, ...headers } : headers
  })
}

function passwordGrant (fields: Record<string, string> = {}): string {
  return form({ grant_type: 'password', username: account.username, password: account.password, ...fields })
}

function expectNoStore (t: Test, response: LightMyRequestResponse): void {
  t.equal(response.headers['cache-control'], 'no-store', 'Cache-Control: no-store')
  t.equal(response.headers.pragma, 'no-cache', 'Pragma: no-cache')
}

interface TokenBody { access_token: string, token_type: string, expires_in: number, refresh_token?: string, scope?: string }

function expectToken (t: Test, response: LightMyRequestResponse): TokenBody {
  t.equal(response.statusCode, 200, response.body.slice(0, 300))
  t.match(response.headers['content-type'], /^application\/json/)
  expectNoStore(t, response)
  const body = response.json<TokenBody>()
  t.type(body.access_token, 'string')
  t.match(body.access_token, /^[\w-]+\.[\w-]+\.[\w-]+$/, 'a compact JWS')
  t.equal(body.token_type, 'bearer')
  t.equal(body.expires_in, 900)
  return body
}

/** RFC 6749 §5.2: `{error, error_description}`, JSON, not a problem document, never cached. */
function expectOAuthError (t: Test, response: LightMyRequestResponse, status: number, error: string): { error: string, error_description: string } {
  t.equal(response.statusCode, status, `status ${status} (${response.body.slice(0, 300)})`)
  t.match(response.headers['content-type'], /^application\/json/, 'plain JSON')
  t.notOk(isProblem(response), 'not problem+json')
  expectNoStore(t, response)
  const body = response.json<{ error: string, error_description: string }>()
  t.same(Object.keys(body).sort(), ['error', 'error_description'], 'only error and error_description')
  t.equal(body.error, error)
  t.type(body.error_description, 'string')
  t.ok(body.error_description.length > 0, 'has a description')
  return body
}

function decodePart (part: string | undefined): Record<string, unknown> {
  return JSON.parse(Buffer.from(part ?? '', 'base64url').toString('utf8')) as Record<string, unknown>
}

async function userCount (): Promise<number> {
  const row = await db.selectFrom('users').select((eb) => eb.fn.countAll<string>().as('n')).executeTakeFirstOrThrow()
  return Number(row.n)
}

t.test('form-encoded password grant issues a bearer token', async (t) => {
  const body = expectToken(t, await tokenRequest(app, passwordGrant()))
  const me = await app.inject({ method: 'GET', url: '/api/v1/users/me', headers: bearer(body.access_token) })
  t.equal(me.statusCode, 200, 'the token works on a protected endpoint')
  t.equal(me.json<{ id: string }>().id, account.id)
})

t.test('a JSON body works too', async (t) => {
  expectToken(t, await tokenRequest(app, { grant_type: 'password', username: account.username, password: account.password }))
})

t.test('username may be the email or the username, any case', async (t) => {
  for (const username of ['TokenUser', 'tokenuser', 'TOKENUSER', 'token.user@example.com', 'Token.User@EXAMPLE.com']) {
    const body = expectToken(t, await tokenRequest(app, passwordGrant({ username })))
    t.equal(decodePart(body.access_token.split('.')[1]).sub, account.id, `as ${username}`)
  }
})

t.test('the access token is an RFC 9068 JWT signed with the service key', async (t) => {
  const before = Math.floor(Date.now() / 1000)
  const body = expectToken(t, await tokenRequest(app, passwordGrant()))
  const after = Math.floor(Date.now() / 1000)
  const [headerPart, payloadPart, signaturePart] = body.access_token.split('.')
  const header = decodePart(headerPart)
  t.equal(header.typ, 'at+jwt')
  t.equal(header.alg, 'RS256')
  t.type(header.kid, 'string')
  t.ok(String(header.kid).length > 0, 'has a kid')

  const claims = decodePart(payloadPart)
  t.equal(claims.iss, 'http://user-service.test', 'iss is PUBLIC_URL')
  t.equal(claims.aud, 'user-service')
  t.equal(claims.sub, account.id)
  t.type(claims.iat, 'number')
  t.ok((claims.iat as number) >= before && (claims.iat as number) <= after, 'iat is now')
  t.equal((claims.exp as number) - (claims.iat as number), 900, 'exp is 900 s after iat')
  t.type(claims.jti, 'string')
  t.ok(String(claims.jti).length > 0)
  t.same(claims.roles, ['user'])
  t.type(claims.client_id, 'string')
  t.ok(String(claims.client_id).length > 0, 'has a client_id (RFC 9068 requires one)')

  const key = await db.selectFrom('signing_keys').select('public_key').where('kid', '=', String(header.kid)).executeTakeFirst()
  t.ok(key, 'the kid names a stored signing key')
  if (key !== undefined) {
    const signed = Buffer.from(`${headerPart}.${payloadPart}`)
    const signature = Buffer.from(signaturePart ?? '', 'base64url')
    t.ok(verify('RSA-SHA256', signed, createPublicKey(key.public_key), signature), 'the signature verifies with that key')
  }

  const second = expectToken(t, await tokenRequest(app, passwordGrant()))
  t.not(decodePart(second.access_token.split('.')[1]).jti, claims.jti, 'every token has its own jti')
})

t.test('JWT_EXPIRE_MINUTES sets expires_in and exp', async (t) => {
  const { app: short } = await buildApp(t, { env: { JWT_EXPIRE_MINUTES: '5' } })
  const user = await registerAccount(short)
  const response = await tokenRequest(short, form({ grant_type: 'password', username: user.username, password: user.password }))
  t.equal(response.statusCode, 200)
  const body = response.json<TokenBody>()
  t.equal(body.expires_in, 300)
  const claims = decodePart(body.access_token.split('.')[1])
  t.equal((claims.exp as number) - (claims.iat as number), 300)
})

t.test('a wrong password and an unknown user get the same invalid_grant', async (t) => {
  const wrong = await tokenRequest(app, passwordGrant({ password: 'not the password' }))
  const unknown = await tokenRequest(app, passwordGrant({ username: 'nobody-here' }))
  const unknownEmail = await tokenRequest(app, passwordGrant({ username: 'nobody@example.com' }))
  const wrongBody = expectOAuthError(t, wrong, 400, 'invalid_grant')
  t.same(expectOAuthError(t, unknown, 400, 'invalid_grant'), wrongBody, 'identical answers')
  t.same(expectOAuthError(t, unknownEmail, 400, 'invalid_grant'), wrongBody, 'identical answers')
  t.notOk(wrong.headers['www-authenticate'], 'no client challenge for a user error')
})

t.test('missing parameters are invalid_request', async (t) => {
  const noGrant = expectOAuthError(t, await tokenRequest(app, form({ username: account.username, password: account.password })), 400, 'invalid_request')
  t.match(noGrant.error_description, 'grant_type')
  const emptyGrant = await tokenRequest(app, form({ grant_type: '', username: account.username, password: account.password }))
  expectOAuthError(t, emptyGrant, 400, 'invalid_request')
  const noUsername = expectOAuthError(t, await tokenRequest(app, form({ grant_type: 'password', password: account.password })), 400, 'invalid_request')
  t.match(noUsername.error_description, 'username')
  const noPassword = expectOAuthError(t, await tokenRequest(app, form({ grant_type: 'password', username: account.username })), 400, 'invalid_request')
  t.match(noPassword.error_description, 'password')
  const emptyPassword = await tokenRequest(app, passwordGrant({ password: '' }))
  expectOAuthError(t, emptyPassword, 400, 'invalid_request')
  const emptyBody = await tokenRequest(app, '')
  expectOAuthError(t, emptyBody, 400, 'invalid_request')
})

t.test('client_credentials from a public client is unauthorized_client; an unknown grant is unsupported_grant_type', async (t) => {
  const body = expectOAuthError(t, await tokenRequest(app, form({ grant_type: 'client_credentials', client_id: 'x' })), 400, 'unauthorized_client')
  t.match(body.error_description, 'confidential client')
  expectOAuthError(t, await tokenRequest(app, passwordGrant({ grant_type: 'implicit' })), 400, 'unsupported_grant_type')
})

t.test('errors are RFC 6749 shaped, never problem+json', async (t) => {
  for (const payload of [passwordGrant({ password: 'wrong password!' }), form({ grant_type: 'refresh_token_x' }), '{"broken json', 'username=a&username=b']) {
    const headers: Record<string, string> = payload.startsWith('{') ? { 'content-type': 'application/json' } : {}
    const response = await tokenRequest(app, payload, headers)
    t.equal(response.statusCode, 400)
    const body = response.json<Record<string, unknown>>()
    t.notOk('code' in body, 'no problem `code`')
    t.notOk('type' in body, 'no problem `type`')
    t.notOk('status' in body, 'no problem `status`')
    t.type(body.error, 'string')
    t.type(body.error_description, 'string')
  }
})

t.test('public clients: client_id and an empty client_secret are accepted', async (t) => {
  expectToken(t, await tokenRequest(app, passwordGrant({ client_id: 'anything', client_secret: '' })))
  expectToken(t, await tokenRequest(app, passwordGrant({ client_id: 'swagger-ui' })))
})

t.test('Authorization: Basic with empty credentials (Swagger UI) is accepted', async (t) => {
  expectToken(t, await tokenRequest(app, passwordGrant(), { authorization: 'Basic Og==' }))
  const idOnly = Buffer.from('swagger:').toString('base64')
  expectToken(t, await tokenRequest(app, passwordGrant(), { authorization: `Basic ${idOnly}` }))
})

t.test('a client that is not registered is the default public client, whatever secret it sends', async (t) => {
  expectToken(t, await tokenRequest(app, passwordGrant({ client_id: 'app', client_secret: 's3cret' })))
  const basic = Buffer.from('app:s3cret').toString('base64')
  expectToken(t, await tokenRequest(app, passwordGrant(), { authorization: `Basic ${basic}` }))
})

t.test('a malformed Authorization: Basic is 401 invalid_client, not 500', async (t) => {
  const base64 = (text: string) => Buffer.from(text).toString('base64')
  const malformed = [
    `Basic ${base64('a:%zz')}`, // a secret that is not form-encoded (decodeURIComponent throws)
    `Basic ${base64('%E0%A4%A:')}`, // an id that is not form-encoded
    `Basic ${base64('no colon')}`,
    'Basic !!!not-base64!!!',
    'Basic Og== trailing',
    'Basic'
  ]
  for (const authorization of malformed) {
    const response = await tokenRequest(app, passwordGrant(), { authorization })
    expectOAuthError(t, response, 401, 'invalid_client')
    t.match(response.headers['www-authenticate'], /^Basic realm=/, `${authorization}: a Basic challenge`)
    const revoke = await app.inject({ method: 'POST', url: '/api/v1/auth/revoke', headers: { authorization }, payload: { token: 'anything' } })
    t.equal(revoke.statusCode, 401, `${authorization}: revocation refuses it too`)
    t.equal(revoke.json().error, 'invalid_client')
  }
  const percentEncodedEmpty = await tokenRequest(app, passwordGrant(), { authorization: `Basic ${base64('swagger%20ui:')}` })
  expectToken(t, percentEncodedEmpty)
})

t.test('scope is accepted', async (t) => {
  expectToken(t, await tokenRequest(app, passwordGrant({ scope: 'read' })))
})

t.test('unrecognised parameters are ignored (RFC 6749 §3.2)', async (t) => {
  expectToken(t, await tokenRequest(app, passwordGrant({ foo: 'bar' })))
  expectToken(t, await tokenRequest(app, { grant_type: 'password', username: account.username, password: account.password, foo: 'bar' }))
})

t.test('an inactive account with the right password is invalid_grant', async (t) => {
  const response = await tokenRequest(app, form({ grant_type: 'password', username: disabled.username, password: disabled.password }))
  expectOAuthError(t, response, 400, 'invalid_grant')
  const wrong = await tokenRequest(app, form({ grant_type: 'password', username: disabled.username, password: 'not the password' }))
  expectOAuthError(t, wrong, 400, 'invalid_grant')
})

t.test('a NUL byte in the password is invalid_request', async (t) => {
  const response = await tokenRequest(app, passwordGrant({ password: `${account.password}\u0000` }))
  const body = expectOAuthError(t, response, 400, 'invalid_request')
  t.match(body.error_description, /password/)
  t.match(body.error_description, /NUL/)
  const json = await tokenRequest(app, { grant_type: 'password', username: `${account.username}\u0000`, password: account.password })
  expectOAuthError(t, json, 400, 'invalid_request')
})

t.test('a repeated parameter is invalid_request', async (t) => {
  const response = await tokenRequest(app, form([['grant_type', 'password'], ['username', account.username], ['username', 'someone'], ['password', account.password]]))
  expectOAuthError(t, response, 400, 'invalid_request')
})

t.test('a body over the limit is 413 in OAuth shape', async (t) => {
  const response = await tokenRequest(app, passwordGrant({ padding: 'x'.repeat(1024 * 1024) }))
  const body = expectOAuthError(t, response, 413, 'invalid_request')
  t.match(body.error_description, /larger than the limit/)
})

t.test('a wrong content type on the token endpoint is an OAuth error', async (t) => {
  const response = await tokenRequest(app, passwordGrant(), { 'content-type': 'text/plain' })
  t.equal(response.statusCode, 415)
  t.notOk(isProblem(response))
  t.equal(response.json<{ error: string }>().error, 'invalid_request')
  expectNoStore(t, response)
})

t.test('the token endpoint writes no users', async (t) => {
  const before = await userCount()
  await tokenRequest(app, passwordGrant({ username: 'brand-new-user' }))
  await tokenRequest(app, passwordGrant())
  t.equal(await userCount(), before)
})

/* ---------------------------------- /auth/login (JSON) ---------------------------------- */

interface Problem { type: string, title: string, status: number, detail: string, instance: string, code: string, request_id: string }

function expectProblem (t: Test, response: LightMyRequestResponse, status: number, code: string): Problem {
  t.equal(response.statusCode, status, `status ${status} (${response.body.slice(0, 300)})`)
  t.ok(isProblem(response), 'problem+json')
  const body = response.json<Problem>()
  t.equal(body.code, code)
  t.equal(body.status, status)
  t.equal(body.type, 'about:blank')
  t.equal(body.instance, LOGIN)
  t.equal(body.request_id, response.headers['x-request-id'])
  t.ok(body.detail.length > 0)
  return body
}

t.test('POST /auth/login answers like register: user and tokens, not cached', async (t) => {
  const register = await app.inject({ method: 'POST', url: '/api/v1/auth/register', payload: { email: 'shape@example.com', username: 'Shape', password: 'correct horse battery' } })
  t.equal(register.statusCode, 201)
  const response = await app.inject({ method: 'POST', url: LOGIN, payload: { login: 'SHAPE@example.com', password: 'correct horse battery' } })
  t.equal(response.statusCode, 200, response.body)
  t.equal(response.headers['cache-control'], 'no-store')
  const body = response.json<{ user: Record<string, unknown> } & TokenBody>()
  const registered = register.json<{ user: Record<string, unknown> } & TokenBody>()
  t.same(Object.keys(body).sort(), Object.keys(registered).sort(), 'same top-level fields as register')
  t.same(body.user, registered.user, 'the same user')
  t.notOk('hashed_password' in body.user, 'never the hash')
  t.equal(body.token_type, 'bearer')
  t.equal(body.expires_in, 900)
  const claims = decodePart(body.access_token.split('.')[1])
  t.equal(claims.sub, registered.user.id)
  const me = await app.inject({ method: 'GET', url: '/api/v1/users/me', headers: bearer(body.access_token) })
  t.equal(me.statusCode, 200)
})

t.test('login: wrong password and unknown login are the same 401 invalid_credentials', async (t) => {
  const wrong = await app.inject({ method: 'POST', url: LOGIN, payload: { login: account.username, password: 'not the password' } })
  const unknown = await app.inject({ method: 'POST', url: LOGIN, payload: { login: 'nobody-at-all', password: 'not the password' } })
  const unknownEmail = await app.inject({ method: 'POST', url: LOGIN, payload: { login: 'nobody@example.com', password: account.password } })
  const wrongBody = expectProblem(t, wrong, 401, 'invalid_credentials')
  t.equal(expectProblem(t, unknown, 401, 'invalid_credentials').detail, wrongBody.detail, 'same detail')
  t.equal(expectProblem(t, unknownEmail, 401, 'invalid_credentials').detail, wrongBody.detail, 'same detail')
  t.equal(unknown.json<Problem>().title, wrongBody.title)
})

t.test('login: an inactive account with the right password is 403 account_disabled', async (t) => {
  const right = await app.inject({ method: 'POST', url: LOGIN, payload: { login: disabled.email, password: disabled.password } })
  expectProblem(t, right, 403, 'account_disabled')
  t.notOk('access_token' in right.json<Record<string, unknown>>(), 'no token')
  const wrong = await app.inject({ method: 'POST', url: LOGIN, payload: { login: disabled.email, password: 'not the password' } })
  expectProblem(t, wrong, 401, 'invalid_credentials')
})
