import { randomUUID } from 'node:crypto'
import { once } from 'node:events'
import net from 'node:net'
import type { FastifyInstance, InjectOptions } from 'fastify'
import { Redis } from 'ioredis'
import t, { type Test } from 'tap'
import { TcpProxy } from '../resilience/tcp-proxy.js'
import { withinBudget } from '../../src/rate-limit/shared-redis.js'
import { buildApp, LogCapture, registerAccount } from '../helper.js'

/**
 * Redis at TEST_REDIS_URL (default redis://127.0.0.1:6379, which .ci/run starts). Every app
 * here uses a key prefix of its own, so parallel runs and test files never share counters.
 */
const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379'
/**
 * REDIS_TIMEOUT_MS is generous where a test is about counting in Redis: on a busy machine a
 * round trip can take longer than the production budget of 50 ms, and the request would then
 * rightly be counted in the process. The test of a Redis that stops answering keeps 50 ms.
 */
const LIMITS = { RATE_LIMIT_ENABLED: 'true', RATE_LIMIT_SIGNIN_MAX: '4', REDIS_TIMEOUT_MS: '5000' }
const badLogin: InjectOptions = { method: 'POST', url: '/api/v1/auth/login', payload: {} }

function keyPrefix (): string {
  return `test:rate-limit:${process.pid}:${randomUUID().slice(0, 8)}:`
}

async function statuses (app: FastifyInstance, times: number): Promise<number[]> {
  const result: number[] = []
  for (let i = 0; i < times; i++) result.push((await app.inject(badLogin)).statusCode)
  return result
}

function sample (text: string, line: RegExp): number | undefined {
  const match = text.split('\n').find((entry) => line.test(entry))
  return match === undefined ? undefined : Number(match.split(' ').pop())
}

async function fallbacks (app: FastifyInstance): Promise<number | undefined> {
  return sample((await app.inject({ method: 'GET', url: '/metrics' })).body, /^rate_limit_redis_fallbacks_total /)
}

t.test('two instances with the same REDIS_URL count together', async (t) => {
  const prefix = keyPrefix()
  const env = { ...LIMITS, REDIS_URL, REDIS_KEY_PREFIX: prefix }
  const first = await buildApp(t, { env })
  const second = await buildApp(t, { env, database: first.database })
  t.same(await statuses(first.app, 2), [400, 400])
  t.same(await statuses(second.app, 2), [400, 400], 'the second instance sees the first one\'s requests')
  t.equal((await first.app.inject(badLogin)).statusCode, 429, 'four requests over two instances reach the limit of four')
  t.equal((await second.app.inject(badLogin)).statusCode, 429)
  t.equal(await fallbacks(first.app), 0, 'nothing fell back to the process')

  const redis = new Redis(REDIS_URL)
  t.teardown(() => { redis.disconnect() })
  const keys = await redis.keys(`${prefix}*`)
  t.equal(keys.length, 1, `one counter in Redis under the prefix: ${keys.join(', ')}`)
  t.match(keys[0], /:rate-limit:127\.0\.0\.1:signin$/)
  t.ok((await redis.pttl(keys[0] ?? '')) > 0, 'the counter expires with its window')
})

t.test('a long forwarded address makes a short Redis key', async (t) => {
  const prefix = keyPrefix()
  const { app } = await buildApp(t, { env: { ...LIMITS, REDIS_URL, REDIS_KEY_PREFIX: prefix, TRUST_PROXY: 'true' } })
  t.equal((await app.inject({ ...badLogin, headers: { 'x-forwarded-for': 'x'.repeat(8000) } })).statusCode, 400)
  const redis = new Redis(REDIS_URL)
  t.teardown(() => { redis.disconnect() })
  const keys = await redis.keys(`${prefix}*`)
  t.equal(keys.length, 1)
  t.ok((keys[0]?.length ?? Infinity) <= prefix.length + 80, `bounded: ${keys[0]}`)
})

t.test('with Redis unreachable requests succeed, counted in the process; one warning, counted in /metrics', async (t) => {
  const logs = new LogCapture()
  const { app } = await buildApp(t, { logs, env: { ...LIMITS, REDIS_URL: 'redis://:hunter2-secret@127.0.0.1:1' } })
  t.same(await statuses(app, 5), [400, 400, 400, 400, 429], 'the limit holds, counted in this process')
  t.equal(await fallbacks(app), 5, 'every request counted locally is in rate_limit_redis_fallbacks_total')
  const warnings = logs.records().filter((record) => record.level === 40 && /Redis is unavailable/.test(String(record.msg)))
  t.equal(warnings.length, 1, 'one warning, however many requests fell back')
  t.match(warnings[0], { redis: 'redis://:***@127.0.0.1:1' })
  t.notMatch(logs.text, /hunter2-secret/, 'the password of REDIS_URL is never logged')
  const ready = await app.inject({ method: 'GET', url: '/ready' })
  t.equal(ready.statusCode, 200, 'the service stays ready: limits degrade, requests go on')
})

/** A pass-through to Redis that sees the app's connections, and can stop answering (a hung Redis). */
class PassThrough {
  readonly sockets: net.Socket[] = []
  readonly #server: net.Server

  constructor () {
    const target = new URL(REDIS_URL)
    this.#server = net.createServer((client) => {
      this.sockets.push(client)
      const upstream = net.connect(Number(target.port === '' ? 6379 : target.port), target.hostname)
      client.pipe(upstream).pipe(client)
      client.on('close', () => upstream.destroy())
      upstream.on('close', () => client.destroy())
      client.on('error', () => {})
      upstream.on('error', () => {})
    })
  }

  async start (t: Test): Promise<string> {
    this.#server.listen(0, '127.0.0.1')
    await once(this.#server, 'listening')
    t.teardown(() => {
      for (const socket of this.sockets) socket.destroy()
      this.#server.close()
    })
    const url = new URL(REDIS_URL)
    url.hostname = '127.0.0.1'
    url.port = String((this.#server.address() as net.AddressInfo).port)
    return url.toString()
  }

  /** Commands still go out but vanish: no answer ever comes back. */
  stall (): void {
    for (const client of this.sockets) {
      client.unpipe()
      client.on('data', () => {})
    }
  }
}

t.test('closing the app closes its Redis connection', async (t) => {
  const redis = new PassThrough()
  const { app } = await buildApp(t, { env: { ...LIMITS, REDIS_URL: await redis.start(t), REDIS_KEY_PREFIX: keyPrefix() } })
  t.same(await statuses(app, 1), [400])
  t.equal(await fallbacks(app), 0, 'counted in Redis, through the pass-through')
  t.ok(redis.sockets.length >= 1)
  const closed = redis.sockets.filter((socket) => !socket.closed).map((socket) => once(socket, 'close'))
  await app.close()
  await Promise.all(closed)
  t.ok(redis.sockets.every((socket) => socket.closed), 'every connection to Redis is closed')
})

t.test('a Redis that stops answering costs a request at most its 50 ms budget; requests go on, counted in the process', async (t) => {
  const redis = new PassThrough()
  const { app } = await buildApp(t, { env: { ...LIMITS, REDIS_TIMEOUT_MS: '50', REDIS_URL: await redis.start(t), REDIS_KEY_PREFIX: keyPrefix() } })
  // Redis answered at start; whether these two were counted there or (busy machine) here does not matter.
  t.same(await statuses(app, 1), [400])
  const before = await fallbacks(app) ?? 0
  redis.stall()
  const after = await statuses(app, 5)
  t.ok(after.every((status) => status === 400 || status === 429), `every request is answered: ${after.join(', ')}`)
  t.equal(after.at(-1), 429, 'the limit holds, counted in this process')
  t.equal(await fallbacks(app), before + 5, 'each request after the stall fell back to the process')
})

/** A TCP proxy in front of Redis that the test can cut (Redis going away), and the REDIS_URL through it. */
async function proxiedRedis (t: Test): Promise<{ proxy: TcpProxy, url: string }> {
  const target = new URL(REDIS_URL)
  const proxy = new TcpProxy({ host: target.hostname, port: Number(target.port === '' ? 6379 : target.port) })
  await proxy.start()
  t.teardown(() => proxy.stop())
  const proxied = new URL(REDIS_URL)
  proxied.hostname = '127.0.0.1'
  proxied.port = String(proxy.port)
  return { proxy, url: proxied.toString() }
}

t.test('when Redis goes away mid-test requests go on, counted in the process', async (t) => {
  const { proxy, url: proxiedUrl } = await proxiedRedis(t)
  const { app } = await buildApp(t, { env: { ...LIMITS, RATE_LIMIT_SIGNIN_MAX: '6', REDIS_URL: proxiedUrl, REDIS_KEY_PREFIX: keyPrefix() } })
  t.same(await statuses(app, 2), [400, 400], 'counted in Redis')
  t.equal(await fallbacks(app), 0)

  await proxy.cut()
  // The process starts counting afresh: the limit of six holds again, locally.
  t.same(await statuses(app, 7), [400, 400, 400, 400, 400, 400, 429], 'no request fails or waits for Redis; the limit holds, counted locally')
  t.equal(await fallbacks(app), 7, 'every request after the cut fell back to the process')
})

t.test('an answer that came while the process was busy is not taken for a slow Redis', async (t) => {
  const redis = new Redis(REDIS_URL)
  t.teardown(() => { redis.disconnect() })
  t.equal(await redis.ping(), 'PONG')
  const answer = withinBudget(redis.ping(), 10)
  // Blocks the event loop (as a PGlite query does) while Redis answers; the budget's timer is due
  // before the answer is read. A second leaves Redis time to answer on a machine however busy.
  const until = Date.now() + 1000
  while (Date.now() < until) { /* busy */ }
  t.equal(await answer, 'PONG')
})

t.test('login throttling: two instances count failures together, and logins go on when Redis goes away', async (t) => {
  const { proxy, url: proxiedUrl } = await proxiedRedis(t)
  const env = { ...LIMITS, RATE_LIMIT_SIGNIN_MAX: '1000', LOGIN_MAX_FAILURES: '4', REDIS_URL: proxiedUrl, REDIS_KEY_PREFIX: keyPrefix() }
  const first = await buildApp(t, { env })
  const second = await buildApp(t, { env, database: first.database })
  const account = await registerAccount(first.app)
  const attempt = (app: FastifyInstance, password: string): Promise<number> =>
    app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { login: account.email, password } }).then((response) => response.statusCode)

  t.same([await attempt(first.app, 'wrong 1'), await attempt(second.app, 'wrong 2'), await attempt(first.app, 'wrong 3'), await attempt(second.app, 'wrong 4')],
    [401, 401, 401, 401])
  t.equal(await attempt(first.app, account.password), 429, 'four failures over two instances reach the limit of four')
  t.equal(await attempt(second.app, account.password), 429)
  t.equal(await fallbacks(first.app), 0, 'nothing fell back to the process')

  await proxy.cut()
  t.equal(await attempt(first.app, account.password), 200, 'with Redis gone the login goes on, counted in the process')
  t.same([await attempt(second.app, 'wrong'), await attempt(second.app, 'wrong'), await attempt(second.app, 'wrong'), await attempt(second.app, 'wrong'), await attempt(second.app, 'wrong')],
    [401, 401, 401, 401, 429], 'and the throttle still holds, in each process')
  t.ok((await fallbacks(second.app) ?? 0) >= 5, 'the fallbacks are counted')
})

t.test('login throttle keys in Redis are short and hold no login', async (t) => {
  const prefix = keyPrefix()
  const { app } = await buildApp(t, { env: { ...LIMITS, RATE_LIMIT_SIGNIN_MAX: '1000', REDIS_URL, REDIS_KEY_PREFIX: prefix } })
  const long = `${'x'.repeat(300)}@example.com`
  t.equal((await app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { login: long, password: 'wrong password' } })).statusCode, 401)
  const redis = new Redis(REDIS_URL)
  t.teardown(() => { redis.disconnect() })
  const keys = (await redis.keys(`${prefix}login:*`)).sort()
  t.equal(keys.length, 2, `a pair and an account counter: ${keys.join(', ')}`)
  for (const key of keys) {
    t.ok(key.length <= prefix.length + 90, `bounded: ${key}`)
    t.notMatch(key, /example|xxx/, 'no login in the key')
    t.ok(await redis.pttl(key) > 0, 'expires')
  }
})
