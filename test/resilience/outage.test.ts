import { once } from 'node:events'
import type { FastifyInstance, InjectOptions } from 'fastify'
import { sql } from 'kysely'
import t, { type Test } from 'tap'
import { LogCapture, bearer, buildApp, isProblem, registerAccount, type Account } from '../helper.js'
import { Faults, createFaultyDatabase } from './faulty-database.js'

type TestContext = Parameters<typeof buildApp>[0]

const RESET_MS = 1000
const breakerEnv = { DB_BREAKER_RESET_MS: String(RESET_MS), DB_BREAKER_VOLUME: '2', DB_BREAKER_ERROR_THRESHOLD: '50' }

async function faultyApp (t: TestContext, logs?: LogCapture): Promise<{ app: FastifyInstance, faults: Faults }> {
  const faults = new Faults()
  const database = await createFaultyDatabase(faults)
  t.teardown(database.drop)
  const { app } = await buildApp(t, { database, env: breakerEnv, ...(logs === undefined ? {} : { logs }) })
  return { app, faults }
}

/** Counts argon2 work (hashing and verifying) done by the app. */
function countHashing (app: FastifyInstance): { count: number } {
  const counter = { count: 0 }
  const { passwords } = app
  const hash = passwords.hash.bind(passwords)
  const verify = passwords.verifyOrDummy.bind(passwords)
  passwords.hash = async (...args) => { counter.count++; return hash(...args) }
  passwords.verifyOrDummy = async (...args) => { counter.count++; return verify(...args) }
  return counter
}

type Login = InjectOptions & { url: string }

/** Takes the database down; requests fail with 503 (never 500) until the breaker opens. */
async function tripBreaker (t: Test, app: FastifyInstance, faults: Faults, login: Login): Promise<void> {
  faults.down = true
  const first = await app.inject(login)
  t.equal(first.statusCode, 503, 'a failure before the breaker opens is a 503 too, not a 500')
  t.ok(isProblem(first))
  t.equal(first.json().code, 'service_unavailable')
  t.ok(first.headers['retry-after'], 'with Retry-After')
  // The failures outweigh the successes of the rolling window after a few more requests.
  const statuses = new Set<number>()
  for (let i = 0; i < 50 && app.dbBreaker.state === 'closed'; i++) statuses.add((await app.inject(login)).statusCode)
  t.same([...statuses], [503], 'only 503s on the way')
  t.equal(app.dbBreaker.state, 'open', 'the breaker opened')
}

/**
 * With the breaker open: every database route answers 503 + Retry-After at once, without
 * hashing. "At once" is counted, not timed: not one connect or query reaches the database.
 */
async function expectFastRefusals (t: Test, app: FastifyInstance, faults: Faults, account: Account, login: Login): Promise<void> {
  const hashing = countHashing(app)
  const calls = faults.calls
  const requests: Login[] = [
    login,
    { method: 'POST', url: '/api/v1/auth/register', payload: { email: 'new@example.com', username: 'newbie', password: 'correct horse battery' } },
    { method: 'GET', url: '/api/v1/users/me', headers: bearer(account.accessToken) }
  ]
  for (const request of requests) {
    const response = await app.inject(request)
    t.equal(response.statusCode, 503, `${request.url}: 503`)
    t.ok(isProblem(response))
    t.equal(response.json().code, 'service_unavailable')
    t.equal(response.headers['retry-after'], '1', 'Retry-After: whole seconds until half-open')
    t.equal(faults.calls, calls, `${request.url}: answered without trying the database`)
  }
  const token = await app.inject({
    method: 'POST',
    url: '/api/v1/auth/token',
    payload: `grant_type=password&username=${account.username}&password=x`,
    headers: { 'content-type': 'application/x-www-form-urlencoded' }
  })
  t.equal(token.statusCode, 503)
  t.equal(token.json().error, 'temporarily_unavailable', 'the OAuth endpoint answers in RFC 6749 shape')
  t.equal(token.headers['retry-after'], '1')
  t.equal(hashing.count, 0, 'no password hashing while the breaker is open')
  t.equal(faults.calls, calls, 'no database call while the breaker is open')
}

async function expectHealthWhileOpen (t: Test, app: FastifyInstance): Promise<void> {
  t.equal((await app.inject({ method: 'GET', url: '/health' })).statusCode, 200, '/health stays 200')
  const ready = await app.inject({ method: 'GET', url: '/ready' })
  t.equal(ready.statusCode, 503)
  t.equal(ready.json().checks.breaker, 'open')
  t.match(ready.json().reason, /circuit breaker open \(.*ECONNREFUSED/, '/ready says why')
  t.equal(ready.headers['retry-after'], '1')
}

t.test('database down: 503 (never 500), then the breaker opens and every DB route fails fast with Retry-After', async (t) => {
  const logs = new LogCapture()
  const { app, faults } = await faultyApp(t, logs)
  const account = await registerAccount(app)
  const login: Login = { method: 'POST', url: '/api/v1/auth/login', payload: { login: account.username, password: account.password } }

  await tripBreaker(t, app, faults, login)
  await expectFastRefusals(t, app, faults, account, login)
  await expectHealthWhileOpen(t, app)

  // The breaker closes on its own: its half-open probe finds the database back. (tap's file
  // timeout is the deadline; no request is needed to close it.)
  const closed = once(app.dbBreaker.circuit, 'close')
  faults.down = false
  await closed
  t.equal(app.dbBreaker.state, 'closed', 'closed by itself once the database is back')
  t.equal((await app.inject(login)).statusCode, 200, 'serving again')
  t.equal((await app.inject({ method: 'GET', url: '/ready' })).statusCode, 200)

  // On a busy machine the reset window may pass before the test brings the database back: then
  // a probe fails and the breaker opens again first. Either way each transition is logged once.
  const transitions = logs.records().filter((record) => record.event === 'db_breaker').map((record) => record.state)
  t.match(transitions.join(' '), /^(open half_open )+closed$/, `each transition logged once, as a structured event: ${transitions.join(', ')}`)
})

t.test('query errors (constraints, bad SQL) never open the breaker', async (t) => {
  const { app } = await faultyApp(t)
  const account = await registerAccount(app)
  for (let i = 0; i < 6; i++) {
    const again = await app.inject({ method: 'POST', url: '/api/v1/auth/register', payload: { email: account.email, username: `other${i}`, password: 'correct horse battery' } })
    t.equal(again.statusCode, 409)
    await t.rejects(sql`select 1/0`.execute(app.db), { code: '22012' })
  }
  t.equal(app.dbBreaker.state, 'closed')
})

t.test('a transaction cut by the outage is rolled back: nothing half-written', async (t) => {
  const { app, faults } = await faultyApp(t)
  await t.rejects(app.db.transaction().execute(async (trx) => {
    await sql`insert into users (id, email, username, hashed_password) values (gen_random_uuid(), 'half@example.com', 'half', 'x')`.execute(trx)
    faults.down = true
    await sql`select 1`.execute(trx)
  }), { name: 'DatabaseUnavailableError' })
  faults.down = false
  const { rows } = await sql<{ n: number }>`select count(*)::int as n from users where email = 'half@example.com'`.execute(app.db)
  t.same(rows, [{ n: 0 }])
})

t.test('a password change cut inside its transaction: 503 with Retry-After, and the old password still works', async (t) => {
  const { app, faults } = await faultyApp(t)
  const account = await registerAccount(app)
  // Authentication (connect, read) and the transaction's connect and update get through;
  // ending the other sessions fails, and so does the rollback.
  faults.downAfter(4)
  const response = await app.inject({
    method: 'PUT',
    url: '/api/v1/users/me/password',
    headers: bearer(account.accessToken),
    payload: { current_password: account.password, new_password: 'a brand new passphrase' }
  })
  faults.down = false
  t.equal(response.statusCode, 503, 'the lost connection is a 503, not the failed rollback as a 500')
  t.equal(response.json().code, 'service_unavailable')
  t.ok(response.headers['retry-after'])
  const login = await app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { login: account.email, password: account.password } })
  t.equal(login.statusCode, 200, 'the update was rolled back')
})
