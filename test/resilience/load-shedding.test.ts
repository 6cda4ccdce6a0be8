import { setTimeout as sleep } from 'node:timers/promises'
import t from 'tap'
import type { FastifyInstance } from 'fastify'
import { buildApp, isProblem } from '../helper.js'

/**
 * Waits until under-pressure has taken its first sample (every second; the heap reads 0 until
 * then). 60 s is a deadline for a stuck test, not a measurement.
 */
async function firstSample (app: FastifyInstance): Promise<void> {
  const deadline = Date.now() + 60_000
  while (app.memoryUsage().heapUsed === 0) {
    if (Date.now() > deadline) throw new Error('under-pressure took no sample in 60 s')
    await sleep(50)
  }
}

t.test('under pressure (heap over its limit): 503 with Retry-After, except /health and /metrics', async (t) => {
  // A 1-byte heap limit is always exceeded once the first sample (1 s) is taken.
  const { app } = await buildApp(t, { env: { MAX_HEAP_USED_BYTES: '1' } })
  await firstSample(app)

  const register = await app.inject({ method: 'POST', url: '/api/v1/auth/register', payload: { email: 'a@example.com', username: 'aaa', password: 'correct horse battery' } })
  t.equal(register.statusCode, 503)
  t.ok(isProblem(register))
  t.equal(register.json().code, 'service_unavailable')
  t.match(register.json().detail, /overloaded \(heapUsedBytes\)/)
  t.equal(register.headers['retry-after'], '5')

  const token = await app.inject({
    method: 'POST',
    url: '/api/v1/auth/token',
    payload: 'grant_type=password&username=aaa&password=x',
    headers: { 'content-type': 'application/x-www-form-urlencoded' }
  })
  t.equal(token.statusCode, 503)
  t.equal(token.json().error, 'temporarily_unavailable')
  t.equal(token.headers['retry-after'], '5')

  // /ready has a body of its own for 503 (the readiness report); shed, it answers a problem like the rest.
  const ready = await app.inject({ method: 'GET', url: '/ready' })
  t.equal(ready.statusCode, 503, '/ready is shed: take the instance out of the load balancer')
  t.ok(isProblem(ready))
  t.equal(ready.json().code, 'service_unavailable')
  t.equal(ready.headers['retry-after'], '5')

  t.equal((await app.inject({ method: 'GET', url: '/health' })).statusCode, 200, '/health is never shed')
  t.equal((await app.inject({ method: 'GET', url: '/metrics' })).statusCode, 200, '/metrics is never shed')
})

t.test('a generous event-loop limit lets ordinary traffic through', async (t) => {
  const { app } = await buildApp(t, { env: { MAX_EVENT_LOOP_DELAY_MS: '5000' } })
  t.ok(app.hasDecorator('isUnderPressure'), 'load shedding is on')
  await firstSample(app)
  t.equal((await app.inject({ method: 'GET', url: '/ready' })).statusCode, 200)
})

t.test('by default (every limit 0) load shedding is off', async (t) => {
  const { app } = await buildApp(t)
  t.notOk(app.hasDecorator('isUnderPressure'))
})
