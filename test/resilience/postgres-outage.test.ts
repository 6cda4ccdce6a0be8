import { once } from 'node:events'
import { setTimeout as sleep } from 'node:timers/promises'
import type { FastifyInstance } from 'fastify'
import t from 'tap'
import { openPostgres } from '../../src/db/connect.js'
import { findUserByLogin } from '../../src/users/users.repository.js'
import { LogCapture, buildApp, createTestDatabase, registerAccount, testDatabaseKind, type Account } from '../helper.js'
import type { TestDatabase } from '../setup/databases.js'
import { TcpProxy } from './tcp-proxy.js'

type TestContext = Parameters<typeof buildApp>[0]

const RESET_MS = 2000
const CONCURRENCY = 4
/** How long a condition of the test may take to come about before the test gives up: generous, it is not a measurement. */
const DEADLINE_MS = 60_000

interface Outcome {
  kind: 'register' | 'login'
  username: string
  status: number
  ms: number
  /** The breaker's state when the request was sent. */
  breaker: string
  at: number
}

/** The app reaches a fresh test database through `proxy`; `real` is the direct connection. */
async function appBehindProxy (t: TestContext, logs: LogCapture): Promise<{ app: FastifyInstance, proxy: TcpProxy, real: TestDatabase }> {
  const real = await createTestDatabase()
  const target = new URL(real.url ?? '')
  const proxy = new TcpProxy({ host: target.hostname, port: Number(target.port === '' ? 5432 : target.port) })
  await proxy.start()
  const proxied = new URL(target)
  proxied.hostname = '127.0.0.1'
  proxied.port = String(proxy.port)
  const handle = openPostgres(proxied.toString(), 5, { statementMs: 2000, connectMs: 1000 })
  const database: TestDatabase = { handle, kind: 'postgres', url: proxied.toString(), drop: async () => { await handle.close(); await proxy.stop(); await real.drop() } }
  t.teardown(database.drop)
  // The threshold is a share of all database calls in a 10 s rolling window, and every
  // request before the cut made several successful ones: 10% opens it early in a 3 s outage.
  const env = { DB_BREAKER_RESET_MS: String(RESET_MS), DB_BREAKER_VOLUME: '5', DB_BREAKER_ERROR_THRESHOLD: '10', ARGON2_MEMORY_KIB: '1024', ARGON2_TIME_COST: '1', DB_CONNECT_TIMEOUT_MS: '1000' }
  const { app } = await buildApp(t, { database, env, logs })
  return { app, proxy, real }
}

interface Load {
  outcomes: Outcome[]
  /** Resolves once the outcomes so far satisfy `condition`; rejects after DEADLINE_MS. */
  until: (what: string, condition: (outcomes: Outcome[]) => boolean) => Promise<void>
  stop: () => Promise<void>
}

/** Steady load: CONCURRENCY workers alternating registrations and logins of `accounts` until `stop()`. */
function startLoad (app: FastifyInstance, accounts: Account[]): Load {
  const outcomes: Outcome[] = []
  const waiters = new Set<() => void>()
  let running = true
  let counter = 0
  const worker = async (id: number): Promise<void> => {
    while (running) {
      counter++
      const register = counter % 2 === 0
      const account = accounts[counter % accounts.length] as Account
      const username = register ? `load${id}x${counter}` : account.username
      const payload = register
        ? { email: `${username}@example.com`, username, password: 'correct horse battery' }
        : { login: account.username, password: account.password }
      const breaker = app.dbBreaker.state
      const started = performance.now()
      const response = await app.inject({ method: 'POST', url: `/api/v1/auth/${register ? 'register' : 'login'}`, payload })
      const ms = performance.now() - started
      outcomes.push({ kind: register ? 'register' : 'login', username, status: response.statusCode, ms, breaker, at: Date.now() })
      for (const check of waiters) check()
      // Pacing, as a client backs off after a 503 (not a wait for anything): no busy loop during the outage.
      if (response.statusCode === 503) await sleep(20)
    }
  }
  const workers = Array.from({ length: CONCURRENCY }, async (_, id) => worker(id))
  const until = async (what: string, condition: (outcomes: Outcome[]) => boolean): Promise<void> => new Promise((resolve, reject) => {
    const timer = setTimeout(() => { waiters.delete(check); reject(new Error(`not within ${DEADLINE_MS} ms: ${what}`)) }, DEADLINE_MS)
    const check = (): void => {
      if (!condition(outcomes)) return
      clearTimeout(timer)
      waiters.delete(check)
      resolve()
    }
    waiters.add(check)
    check()
  })
  return { outcomes, until, stop: async () => { running = false; await Promise.all(workers) } }
}

/** Waits (at most DEADLINE_MS) until a login succeeds with the breaker closed; returns the milliseconds it took. */
async function timeToRecovery (app: FastifyInstance, account: Account): Promise<number> {
  const started = Date.now()
  while (Date.now() - started < DEADLINE_MS) {
    const login = await app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { login: account.username, password: account.password } })
    if (login.statusCode === 200 && app.dbBreaker.state === 'closed') return Date.now() - started
    await sleep(50)
  }
  return Infinity
}

t.test('PostgreSQL behind a TCP proxy that is cut under load until the breaker has opened and refused requests', {
  skip: testDatabaseKind() === 'postgres' ? false : 'needs PostgreSQL (TEST_DB=postgres): the fault is a TCP proxy in front of the server'
}, async (t) => {
  const logs = new LogCapture()
  const { app, proxy, real } = await appBehindProxy(t, logs)
  const accounts = [await registerAccount(app), await registerAccount(app)]
  const load = startLoad(app, accounts)
  // Events, not durations: the load has been served for a while, the outage lasts until the
  // breaker opened and refused requests, and the load runs on until registrations succeed again.
  await load.until('8 requests served before the cut', (outcomes) => outcomes.filter((o) => o.status === 200 || o.status === 201).length >= 8)
  const cutAt = Date.now()
  const opened = once(app.dbBreaker.circuit, 'open')
  await proxy.cut()
  await opened
  await load.until('requests refused by the open breaker', (outcomes) => outcomes.filter((o) => o.status === 503 && o.breaker === 'open').length >= 3)
  const closed = once(app.dbBreaker.circuit, 'close')
  await proxy.restore()
  const restoredAt = Date.now()
  await closed
  const recoveryMs = await timeToRecovery(app, accounts[0] as Account)
  await load.until('registrations after the restore', (outcomes) => outcomes.some((o) => o.at > restoredAt && o.status === 201))
  await load.stop()
  const { outcomes } = load

  // The breaker closed by itself (its half-open probe, RESET_MS after it opened), and then logins work.
  t.ok(recoveryMs < Infinity, `full service again once the breaker closed by itself (${Date.now() - restoredAt} ms after the database came back, reset window ${RESET_MS} ms)`)
  const errors = logs.records().filter((record) => Number(record.level) >= 50).map((record) => (record.err as { message?: string } | undefined)?.message)
  t.same(outcomes.filter((o) => ![200, 201, 503].includes(o.status)).map((o) => `${o.kind} ${o.status}`), [], 'only 200, 201 and 503: never a 500')
  t.same(errors, [], 'no error logged')
  const during = outcomes.filter((o) => o.at >= cutAt && o.at <= restoredAt)
  t.ok(during.some((o) => o.status === 503), `503s during the outage (${during.length} requests)`)
  const whileOpen = outcomes.filter((o) => o.status === 503 && o.breaker === 'open')
  t.ok(whileOpen.length > 0, `${whileOpen.length} requests refused by the open breaker`)
  // A refusal of the open breaker is not a database call (outage.test.ts counts that exactly);
  // here it must at least never wait as long as a connect attempt may (DB_CONNECT_TIMEOUT_MS).
  const slow = whileOpen.filter((o) => o.ms >= 1000).map((o) => Math.round(o.ms))
  t.same(slow, [], 'no 503 of the open breaker waited for the database')
  t.ok(outcomes.filter((o) => o.at < cutAt).every((o) => o.status === 200 || o.status === 201), 'all good before the cut')
  t.ok(outcomes.some((o) => o.at > restoredAt && o.status === 201), 'registrations succeed after it')

  for (const outcome of outcomes.filter((o) => o.kind === 'register')) {
    const user = await findUserByLogin(real.handle.db, outcome.username)
    if (outcome.status === 201) t.ok(user, `${outcome.username}: acknowledged (201) and stored`)
    else if (user !== undefined) t.ok(user.hashed_password?.startsWith('$argon2id$'), `${outcome.username}: 503 but stored whole`)
  }
})
