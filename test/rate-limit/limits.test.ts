import Fastify, { type FastifyInstance, type InjectOptions, type LightMyRequestResponse } from 'fastify'
import fp from 'fastify-plugin'
import t from 'tap'
import app from '../../src/app.js'
import { counterKey, LocalCounters } from '../../src/rate-limit/counters.js'
import { withinBudget } from '../../src/rate-limit/shared-redis.js'
import { bearer, buildApp, isProblem, registerAccount, testConfig } from '../helper.js'
import { createTestDatabase } from '../setup/databases.js'

/** Limits on, small enough to reach in a test; the rest of the suite runs with them off. */
const LIMITS = { RATE_LIMIT_ENABLED: 'true', RATE_LIMIT_SIGNIN_MAX: '3', RATE_LIMIT_REGISTER_MAX: '3', RATE_LIMIT_REFRESH_MAX: '3', RATE_LIMIT_SESSIONS_MAX: '3' }
const FORM = { 'content-type': 'application/x-www-form-urlencoded' }

/** A login the schema refuses (400): no password hashing, so the test is about the limit alone. */
const badLogin: InjectOptions = { method: 'POST', url: '/api/v1/auth/login', payload: {} }
const badToken: InjectOptions = { method: 'POST', url: '/api/v1/auth/token', headers: FORM, payload: 'grant_type=nothing' }
const badRefresh: InjectOptions = { method: 'POST', url: '/api/v1/auth/refresh', payload: {} }
const badRegister: InjectOptions = { method: 'POST', url: '/api/v1/auth/register', payload: {} }

async function send (app: FastifyInstance, request: InjectOptions, times: number): Promise<LightMyRequestResponse[]> {
  const responses: LightMyRequestResponse[] = []
  for (let i = 0; i < times; i++) responses.push(await app.inject(request))
  return responses
}

function sample (text: string, line: RegExp): number | undefined {
  const match = text.split('\n').find((entry) => line.test(entry))
  return match === undefined ? undefined : Number(match.split(' ').pop())
}

t.test('the N+1-th login from one address gets 429 problem+json with Retry-After and RateLimit-* headers', async (t) => {
  const { app } = await buildApp(t, { env: LIMITS })
  const allowed = await send(app, badLogin, 3)
  t.same(allowed.map((response) => response.statusCode), [400, 400, 400], 'the limit lets three through')
  t.same(allowed.map((response) => response.headers['ratelimit-remaining']), ['2', '1', '0'], 'RateLimit-Remaining counts down')
  for (const response of allowed) {
    t.equal(response.headers['ratelimit-limit'], '3')
    t.match(response.headers['ratelimit-reset'], /^\d+$/)
    t.equal(response.headers['retry-after'], undefined, 'no Retry-After below the limit')
  }

  const hashesBefore = sample((await app.inject({ method: 'GET', url: '/metrics' })).body, /^password_hash_duration_seconds_count\{operation="verify"\}/) ?? 0
  const refused = await app.inject({ method: 'POST', url: '/api/v1/auth/login', headers: { 'x-request-id': 'limited-1' }, payload: { login: 'nobody', password: 'wrong password' } })
  t.equal(refused.statusCode, 429)
  t.ok(isProblem(refused), 'problem+json')
  const seconds = Number(refused.headers['retry-after'])
  t.ok(Number.isInteger(seconds) && seconds >= 1 && seconds <= 60, `Retry-After is whole seconds within the window (${String(refused.headers['retry-after'])})`)
  t.equal(refused.headers['ratelimit-limit'], '3')
  t.equal(refused.headers['ratelimit-remaining'], '0')
  t.equal(refused.headers['ratelimit-reset'], String(seconds))
  t.match(refused.json(), { status: 429, code: 'too_many_requests', title: 'Too many requests', request_id: 'limited-1', instance: '/api/v1/auth/login' })
  t.match(refused.json<{ detail: string }>().detail, new RegExp(`try again in ${seconds} s`))

  const metrics = (await app.inject({ method: 'GET', url: '/metrics' })).body
  t.equal(sample(metrics, /^password_hash_duration_seconds_count\{operation="verify"\}/) ?? 0, hashesBefore, 'the refused login hashed no password')
  t.equal(sample(metrics, /^http_rate_limited_total\{rule="signin"\}/), 1, 'counted by rule in /metrics')
})

t.test('on the OAuth endpoints the 429 is {error:"too_many_requests", error_description}', async (t) => {
  const { app } = await buildApp(t, { env: LIMITS })
  t.same((await send(app, badToken, 3)).map((response) => response.statusCode), [400, 400, 400])
  const refused = await app.inject(badToken)
  t.equal(refused.statusCode, 429)
  t.match(refused.headers['content-type'], /^application\/json/)
  t.match(refused.json(), { error: 'too_many_requests', error_description: /too many requests from this address; try again in \d+ s/ })
  t.same(Object.keys(refused.json()).sort(), ['error', 'error_description'])
  t.match(refused.headers['retry-after'], /^\d+$/)
  t.equal(refused.headers['ratelimit-remaining'], '0')
  t.equal(refused.headers['cache-control'], 'no-store')

  t.same((await send(app, { method: 'POST', url: '/api/v1/auth/revoke', headers: FORM, payload: '' }, 4)).map((r) => r.statusCode), [400, 400, 400, 429], '/auth/revoke')
  const revoked = await app.inject({ method: 'POST', url: '/api/v1/auth/revoke', headers: FORM, payload: '' })
  t.equal(revoked.json<{ error: string }>().error, 'too_many_requests')
})

t.test('the limit is per kind of route: sign-in (login and token share it), registration, refresh', async (t) => {
  const { app } = await buildApp(t, { env: LIMITS })
  await send(app, badLogin, 2)
  t.equal((await app.inject(badToken)).statusCode, 400, 'the token endpoint draws on the same sign-in budget')
  t.equal((await app.inject(badLogin)).statusCode, 429, 'login and token together: three sign-ins per window')
  t.equal((await app.inject(badToken)).statusCode, 429)
  t.same((await send(app, badRefresh, 4)).map((response) => response.statusCode), [400, 400, 400, 429], 'refresh has its own budget')
  t.same((await send(app, badRegister, 4)).map((response) => response.statusCode), [400, 400, 400, 429], 'registration has its own budget')
  t.equal((await app.inject({ method: 'GET', url: '/health' })).headers['ratelimit-limit'], undefined, 'routes outside /auth are not limited')
})

t.test('the signed-in /auth routes are limited before the token is checked', async (t) => {
  const { app } = await buildApp(t, { env: { ...LIMITS, RATE_LIMIT_SESSIONS_MAX: '2' } })
  const account = await registerAccount(app)
  const sessions = { method: 'GET' as const, url: '/api/v1/auth/sessions' }
  t.equal((await app.inject({ ...sessions, headers: bearer(account.accessToken) })).statusCode, 200)
  t.equal((await app.inject(sessions)).statusCode, 401)
  const refused = await app.inject(sessions)
  t.equal(refused.statusCode, 429, 'a flood of bad tokens is limited too')
  t.equal(refused.json<{ code: string }>().code, 'too_many_requests')
  t.equal((await app.inject({ method: 'POST', url: '/api/v1/auth/logout', headers: bearer(account.accessToken) })).statusCode, 429, 'logout shares the sessions budget')
})

t.test('RATE_LIMIT_ENABLED=false lets everything through, without RateLimit-* headers', async (t) => {
  const { app } = await buildApp(t, { env: { ...LIMITS, RATE_LIMIT_ENABLED: 'false' } })
  const responses = await send(app, badLogin, 10)
  t.same(new Set(responses.map((response) => response.statusCode)), new Set([400]))
  t.equal(responses[9]?.headers['ratelimit-limit'], undefined)
})

t.test('without TRUST_PROXY a spoofed X-Forwarded-For changes nothing: one address, one budget', async (t) => {
  const { app } = await buildApp(t, { env: LIMITS })
  const statuses: number[] = []
  for (let i = 0; i < 4; i++) {
    statuses.push((await app.inject({ ...badLogin, headers: { 'x-forwarded-for': `203.0.113.${i}` } })).statusCode)
  }
  t.same(statuses, [400, 400, 400, 429])
})

for (const trustProxy of ['1', '127.0.0.1/32']) {
  t.test(`with TRUST_PROXY=${trustProxy} each forwarded client address has its own budget`, async (t) => {
    const { app } = await buildApp(t, { env: { ...LIMITS, TRUST_PROXY: trustProxy } })
    const from = (address: string): InjectOptions => ({ ...badLogin, headers: { 'x-forwarded-for': address } })
    t.same((await send(app, from('203.0.113.7'), 4)).map((response) => response.statusCode), [400, 400, 400, 429], 'one client reaches its limit')
    t.equal((await app.inject(from('203.0.113.8'))).statusCode, 400, 'another client behind the proxy is not affected')
    t.equal((await app.inject(from('198.51.100.1, 203.0.113.7'))).statusCode, 429, 'a client cannot escape by prepending addresses')
    t.equal((await app.inject(from('2001:db8:1:2::1'))).statusCode, 400)
    await send(app, from('2001:db8:1:2::2'), 2)
    t.equal((await app.inject(from('2001:db8:1:2::3'))).statusCode, 429, 'IPv6 clients count per /64')
  })
}

t.test('counter keys are bounded and the in-process counters have a cap', async (t) => {
  t.equal(counterKey('203.0.113.7'), '203.0.113.7', 'an address is its own key')
  const long = counterKey('x'.repeat(10000))
  t.ok(long.length <= 64, `a 10 KB address makes a short key (${long.length} characters)`)
  t.not(counterKey('x'.repeat(10000)), counterKey(`${'x'.repeat(9999)}y`), 'different addresses, different keys')

  const counters = new LocalCounters(3)
  for (const key of ['a', 'b', 'c', 'd']) counters.incr(key, 60000, 1000)
  t.equal(counters.size, 3, 'the least recently used key made room')
  t.equal(counters.incr('a', 60000, 1000).current, 1, 'the evicted key starts again')
  t.same(counters.incr('d', 60000, 2000), { current: 2, ttl: 59000 })
  t.same(counters.incr('d', 60000, 61000), { current: 1, ttl: 60000 }, 'a new window after the last one ends')
})

t.test('a route under /auth that names no rate-limit rule is refused at start', async (t) => {
  const database = await createTestDatabase()
  t.teardown(database.drop)
  const server = Fastify()
  t.teardown(() => server.close())
  await server.register(fp(app), { config: testConfig(LIMITS), database: database.handle })
  server.register(async (scope) => { scope.get('/api/v1/auth/unlimited', async () => 'ok') })
  await t.rejects(async () => { await server.ready() }, { message: /GET \/api\/v1\/auth\/unlimited: every \/auth route names its rate-limit rule/ })
})

t.test('a call past its budget is given up', async (t) => {
  const never = new Promise<number>(() => {})
  await t.rejects(withinBudget(never, 20), { message: 'Redis did not answer within 20 ms' }, 'no answer: rejected after the budget')
  t.equal(await withinBudget(Promise.resolve(7), 20), 7)
})

t.test('a browser front end may read the RateLimit-* headers (CORS)', async (t) => {
  const { app } = await buildApp(t, { env: { ...LIMITS, CORS_ORIGINS: 'https://app.example.com' } })
  const response = await app.inject({ ...badLogin, headers: { origin: 'https://app.example.com' } })
  t.equal(response.headers['ratelimit-remaining'], '2')
  t.match(response.headers['access-control-expose-headers'], /RateLimit-Limit, RateLimit-Remaining, RateLimit-Reset/)
})
