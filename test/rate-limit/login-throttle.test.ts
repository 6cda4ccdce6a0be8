import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify'
import t from 'tap'
import { buildApp, isProblem, registerAccount, type Account } from '../helper.js'

/** The login throttle on, with the per-IP limits high enough to stay out of the way. */
const THROTTLE = { RATE_LIMIT_ENABLED: 'true', RATE_LIMIT_SIGNIN_MAX: '100000', RATE_LIMIT_REFRESH_MAX: '100000', LOGIN_MAX_FAILURES: '3' }
const FORM = { 'content-type': 'application/x-www-form-urlencoded' }

function login (name: string, password: string, remoteAddress = '203.0.113.1'): InjectOptions {
  return { method: 'POST', url: '/api/v1/auth/login', remoteAddress, payload: { login: name, password } }
}

async function statuses (app: FastifyInstance, request: InjectOptions, times: number): Promise<number[]> {
  const result: number[] = []
  for (let i = 0; i < times; i++) result.push((await app.inject(request)).statusCode)
  return result
}

function sample (text: string, line: RegExp): number {
  const match = text.split('\n').find((entry) => line.test(entry))
  return match === undefined ? 0 : Number(match.split(' ').pop())
}

/** Passwords verified with argon2 so far (each one a real or a dummy hash). */
async function verifications (app: FastifyInstance): Promise<number> {
  return sample((await app.inject({ method: 'GET', url: '/metrics' })).body, /^password_hash_duration_seconds_count\{operation="verify"\}/)
}

t.test('brute force from one address stops after LOGIN_MAX_FAILURES, before any hashing, even with the right password', async (t) => {
  const { app } = await buildApp(t, { env: THROTTLE })
  const account = await registerAccount(app)
  t.same(await statuses(app, login(account.email, 'wrong password 1'), 3), [401, 401, 401])
  const before = await verifications(app)
  const refused = await app.inject({ ...login(account.email, account.password), headers: { 'x-request-id': 'throttled-1' } })
  t.equal(refused.statusCode, 429, 'the right password waits too: the pair is throttled, not the guess')
  t.ok(isProblem(refused))
  t.equal(refused.headers['retry-after'], '30', 'the first wait is 30 s, in whole seconds')
  t.match(refused.json(), { code: 'too_many_requests', status: 429, request_id: 'throttled-1', detail: 'too many failed sign-ins for this login from this address; try again in 30 s' })
  t.equal(await verifications(app), before, 'no password was hashed for the throttled attempt')

  const token = await app.inject({ method: 'POST', url: '/api/v1/auth/token', remoteAddress: '203.0.113.1', headers: FORM, payload: `grant_type=password&username=${encodeURIComponent(` ${account.email.toUpperCase()}`)}&password=x` })
  t.equal(token.statusCode, 429, 'the password grant shares the throttle, under another spelling of the login')
  t.same(token.json(), { error: 'too_many_requests', error_description: 'too many failed sign-ins for this login from this address; try again in 30 s' })
  t.equal(token.headers['retry-after'], '30')

  t.equal((await app.inject(login(account.email, account.password, '198.51.100.2'))).statusCode, 200, 'the owner from another address is not held back')
  const metrics = (await app.inject({ method: 'GET', url: '/metrics' })).body
  t.equal(sample(metrics, /^http_rate_limited_total\{rule="login_pair"\}/), 2, 'throttled sign-ins are counted by rule')
  t.equal(sample(metrics, /^auth_logins_total\{result="failure"\}/), 3, 'failed logins are counted')
})

t.test('a success starts the pair again', async (t) => {
  const { app } = await buildApp(t, { env: THROTTLE })
  const account = await registerAccount(app)
  t.same(await statuses(app, login(account.username, 'wrong password'), 2), [401, 401])
  t.equal((await app.inject(login(account.username, account.password))).statusCode, 200)
  t.same(await statuses(app, login(account.username, 'wrong password'), 4), [401, 401, 401, 429], 'three failures in a row again before the wait')
})

t.test('unknown and known logins are throttled alike, with the same answer and no lookup or hashing', async (t) => {
  const { app } = await buildApp(t, { env: THROTTLE })
  const account = await registerAccount(app)
  const answers: Record<string, LightMyRequestResponse> = {}
  for (const name of [account.email, 'nobody-here@example.com']) {
    t.same(await statuses(app, login(name, 'wrong password'), 3), [401, 401, 401], name)
    const before = await verifications(app)
    answers[name] = await app.inject(login(name, 'wrong password'))
    t.equal(await verifications(app), before, `${name}: throttled before hashing`)
  }
  const [known, unknown] = Object.values(answers).map((response) => ({ status: response.statusCode, retryAfter: response.headers['retry-after'], detail: response.json<{ detail: string }>().detail }))
  t.same(known, unknown, 'nothing tells an existing account from a missing one')
  t.equal(known?.status, 429)
})

t.test('50 parallel wrong passwords from one address: at most LOGIN_MAX_FAILURES reach argon2', async (t) => {
  const { app } = await buildApp(t, { env: { ...THROTTLE, LOGIN_MAX_FAILURES: '10' } })
  const account = await registerAccount(app)
  const before = await verifications(app)
  const responses = await Promise.all(Array.from({ length: 50 }, async () => app.inject(login(account.email, 'wrong password'))))
  const counts = responses.reduce<Record<number, number>>((sum, response) => ({ ...sum, [response.statusCode]: (sum[response.statusCode] ?? 0) + 1 }), {})
  t.same(counts, { 401: 10, 429: 40 })
  t.equal(await verifications(app) - before, 10, 'ten passwords verified, not fifty')
})

/** Signs in `account` from `address` through the proxy: the status and the refresh token. */
async function signIn (app: FastifyInstance, account: Account, address: string, password = account.password): Promise<{ status: number, refreshToken?: string }> {
  const response = await app.inject({ method: 'POST', url: '/api/v1/auth/login', headers: { 'x-forwarded-for': address }, payload: { login: account.email, password } })
  return { status: response.statusCode, refreshToken: response.statusCode === 200 ? response.json<{ refresh_token: string }>().refresh_token : undefined }
}

t.test('guessing from 200 addresses cannot stop the owner signing in from an address it used before', async (t) => {
  const { app } = await buildApp(t, { env: { ...THROTTLE, TRUST_PROXY: 'true', LOGIN_ACCOUNT_MAX_FAILURES: '50' } })
  const account = await registerAccount(app)
  const home = await signIn(app, account, '192.0.2.10')
  t.equal(home.status, 200)

  const attacker: number[] = []
  for (let i = 0; i < 200; i++) attacker.push((await signIn(app, account, `10.${Math.floor(i / 250)}.${i % 250}.7`, `guess ${i}`)).status)
  t.same(attacker.slice(0, 50), Array(50).fill(401), 'the first 50 guesses are answered')
  t.same(attacker.slice(50), Array(150).fill(429), 'then addresses the account never signed in from wait')

  t.equal((await signIn(app, account, '192.0.2.10')).status, 200, 'the owner signs in from home')
  const newPlace = await app.inject({ method: 'POST', url: '/api/v1/auth/login', headers: { 'x-forwarded-for': '198.51.100.77' }, payload: { login: account.email, password: account.password } })
  t.equal(newPlace.statusCode, 429, 'a new address waits, whatever the password')
  t.match(newPlace.json(), { detail: /^too many failed sign-ins for this login; try again in \d+ s, or from an address it has signed in from before$/ })
  t.equal((await signIn(app, { ...account, email: account.username }, '192.0.2.10')).status, 200, 'the username is trusted from home too')
  const registeredFrom = await app.inject({ method: 'POST', url: '/api/v1/auth/login', remoteAddress: '127.0.0.1', payload: { login: account.email, password: account.password } })
  t.equal(registeredFrom.statusCode, 200, 'the address it registered from is trusted')

  const refreshed = await app.inject({ method: 'POST', url: '/api/v1/auth/refresh', headers: { 'x-forwarded-for': '198.51.100.77' }, payload: { refresh_token: home.refreshToken } })
  t.equal(refreshed.statusCode, 200, 'a refresh-token holder goes on, from anywhere')
  const metrics = (await app.inject({ method: 'GET', url: '/metrics' })).body
  t.equal(sample(metrics, /^http_rate_limited_total\{rule="login_account"\}/), 151)
  const throttledEvents = await app.db.selectFrom('audit_events').select('details').where('outcome', '=', 'throttled').execute()
  t.equal(throttledEvents.length, 1, 'refusals of one login from 151 addresses make one audit event, not 151 rows')
  t.match(throttledEvents[0]?.details, { rule: 'login_account' })
})
