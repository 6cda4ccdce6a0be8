import { randomUUID } from 'node:crypto'
import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify'
import t from 'tap'
import { Faults, createFaultyDatabase } from '../resilience/faulty-database.js'
import { bearer, buildApp, registerAccount } from '../helper.js'
import { operationsOf, type OpenApiDocument, type Operation } from './openapi-document.js'

/** The headers the document must declare wherever an answer carries them. */
const DECLARED_HEADERS = ['location', 'www-authenticate', 'retry-after', 'cache-control', 'pragma', 'x-request-id',
  'ratelimit-limit', 'ratelimit-remaining', 'ratelimit-reset']
/** Rate limits on (so the RateLimit-* headers are there to check), too high to be reached. */
const HIGH_LIMITS = Object.fromEntries(['SIGNIN', 'REGISTER', 'REFRESH', 'SESSIONS', 'INTROSPECT'].map((rule) => [`RATE_LIMIT_${rule}_MAX`, '1000000']))
const FORM = { 'content-type': 'application/x-www-form-urlencoded' }

interface Exchange { name: string, operation: Operation, response: LightMyRequestResponse }

/** Requests every operation gets: no token, a token, a refused query, bodies of the wrong kind, too big, not JSON. */
function badRequests (url: string, token: Record<string, string>): InjectOptions[] {
  return [
    { url },
    { url, headers: token },
    { url, headers: { authorization: 'Bearer not-a-token' } },
    { url: `${url}?q=%00`, headers: token },
    { url, headers: { ...token, 'content-type': 'text/plain' }, payload: 'hello' },
    { url, headers: { ...token, 'content-type': 'application/json' }, payload: '{"a":' },
    { url, headers: { ...token, 'content-type': 'application/json' }, payload: JSON.stringify({ a: 'x'.repeat(2000) }) },
    { url, headers: { authorization: 'Basic bm90OmVtcHR5', ...FORM }, payload: 'grant_type=password' }
  ]
}

/** Requests that succeed (or fail for a reason of their own), for the operations that take a body. */
async function validRequests (app: FastifyInstance): Promise<Record<string, InjectOptions[]>> {
  const account = await registerAccount(app)
  const second = await registerAccount(app)
  await app.db.updateTable('users').set({ roles: ['user', 'service'] }).where('id', '=', second.id).execute()
  const signIn = await app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { login: account.username, password: account.password } })
  const refreshToken = signIn.json<{ refresh_token: string }>().refresh_token
  const token = bearer(account.accessToken)
  return {
    'POST /api/v1/auth/register': [{ payload: { email: 'new@example.com', username: 'newcomer', password: 'correct horse battery' } },
      { payload: { email: account.email, username: 'other', password: 'correct horse battery' } }],
    'POST /api/v1/auth/login': [{ payload: { login: account.username, password: 'wrong password' } }],
    'POST /api/v1/auth/refresh': [{ payload: { refresh_token: refreshToken } }, { payload: { refresh_token: refreshToken } }],
    'POST /api/v1/auth/token': [{ headers: FORM, payload: `grant_type=password&username=${account.username}&password=${account.password.replaceAll(' ', '+')}` }],
    'POST /api/v1/auth/revoke': [{ headers: FORM, payload: 'token=unknown' }],
    'POST /api/v1/auth/introspect': [{ headers: { ...bearer(second.accessToken), ...FORM }, payload: `token=${account.accessToken}` }],
    'PATCH /api/v1/users/me': [{ headers: token, payload: { full_name: 'Alice' } }, { headers: token, payload: { email: second.email } }],
    'PUT /api/v1/users/me/password': [{ headers: token, payload: { current_password: 'wrong password', new_password: 'another good one' } }],
    'DELETE /api/v1/users/me': [{ headers: token, payload: { password: 'wrong password' } }],
    'POST /api/v1/auth/logout': [{ headers: token, payload: {} }]
  }
}

t.test('every answer the service gives is declared in the document, with its media type and headers', async (t) => {
  const faults = new Faults()
  const database = await createFaultyDatabase(faults)
  t.teardown(database.drop)
  const { app } = await buildApp(t, { database, env: { BODY_LIMIT_BYTES: '1024', RATE_LIMIT_ENABLED: 'true', ...HIGH_LIMITS } })
  const operations = await operationsOfApp(app)
  const token = bearer((await registerAccount(app)).accessToken)
  const valid = await validRequests(app)

  const exchanges: Exchange[] = []
  const send = async (operation: typeof operations[number], request: InjectOptions): Promise<void> => {
    const response = await app.inject({ method: operation.method, url: operation.url, ...request })
    exchanges.push({ name: `${operation.method} ${request.url ?? operation.url}`, operation: operation.operation, response })
  }
  for (const operation of operations) {
    for (const request of [...valid[`${operation.method} ${operation.path}`] ?? [], ...badRequests(operation.url, token)]) await send(operation, request)
  }
  faults.down = true
  for (const operation of operations) await send(operation, { headers: token })

  const { statuses, undeclared } = check(exchanges)
  t.same(undeclared, [], `all ${exchanges.length} answers are declared`)
  t.same([...statuses].sort(), [200, 201, 204, 400, 401, 403, 404, 409, 413, 415, 503], 'the requests provoked every kind of answer but 500')
})

t.test('every rate-limited operation declares its 429, with Retry-After and RateLimit-* headers', async (t) => {
  const limits = Object.fromEntries(Object.keys(HIGH_LIMITS).map((name) => [name, '1']))
  const { app } = await buildApp(t, { env: { RATE_LIMIT_ENABLED: 'true', ...limits } })
  const exchanges: Exchange[] = []
  const limited: string[] = []
  for (const { method, url, path, operation } of await operationsOfApp(app)) {
    if (!path.startsWith('/api/v1/auth/')) continue
    limited.push(`${method} ${path}`)
    // Two requests: the first may be counted against a budget another operation shares.
    for (let i = 0; i < 2; i++) {
      exchanges.push({ name: `${method} ${url}`, operation, response: await app.inject({ method, url }) })
    }
  }
  const { undeclared } = check(exchanges)
  t.same(undeclared, [], `all ${exchanges.length} answers are declared`)
  const refused = new Set(exchanges.filter((exchange) => exchange.response.statusCode === 429).map((exchange) => exchange.name.replace(/[0-9a-f-]{36}$/, '{id}')))
  t.same([...refused].sort(), limited.sort(), 'every /auth operation answered 429 once past its limit')
})

async function operationsOfApp (app: FastifyInstance): Promise<Array<{ method: InjectOptions['method'] & string, path: string, url: string, operation: Operation }>> {
  const doc = (await app.inject({ method: 'GET', url: '/openapi.json' })).json<OpenApiDocument>()
  return operationsOf(doc).map(({ method, path, operation }) => ({
    method: method.toUpperCase() as InjectOptions['method'] & string,
    path,
    url: path.replace('{id}', randomUUID()),
    operation
  }))
}

/** The statuses seen, and each answer (or its media type or header) the document does not declare. */
function check (exchanges: Exchange[]): { statuses: Set<number>, undeclared: string[] } {
  const statuses = new Set<number>()
  const undeclared: string[] = []
  for (const { name, operation, response } of exchanges) {
    statuses.add(response.statusCode)
    const answer = `${name} → ${response.statusCode}`
    const declared = operation.responses?.[String(response.statusCode)]
    if (declared === undefined) {
      undeclared.push(answer)
      continue
    }
    const mediaType = String(response.headers['content-type'] ?? '').split(';')[0] ?? ''
    if (response.body !== '' && declared.content?.[mediaType] === undefined) undeclared.push(`${answer}: ${mediaType}`)
    const headers = Object.keys(declared.headers ?? {}).map((header) => header.toLowerCase())
    for (const header of DECLARED_HEADERS.filter((header) => response.headers[header] !== undefined && !headers.includes(header))) {
      undeclared.push(`${answer}: ${header}`)
    }
  }
  return { statuses, undeclared }
}
