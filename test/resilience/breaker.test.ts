import { setImmediate as settle } from 'node:timers/promises'
import { mock } from 'node:test'
import t, { type Test } from 'tap'
import { DatabaseBreaker, DatabaseUnavailableError, type BreakerLog } from '../../src/db/breaker.js'
import { GuardSlot } from '../../src/db/guarded-dialect.js'
import { isInfrastructureError } from '../../src/db/infrastructure-errors.js'

function withCode (message: string, code: string): Error {
  return Object.assign(new Error(message), { code })
}

t.test('infrastructure errors: connection, pool, timeout, server shutdown, closed PGlite', async (t) => {
  const infrastructure = [
    withCode('connect ECONNREFUSED 127.0.0.1:5432', 'ECONNREFUSED'),
    withCode('read ECONNRESET', 'ECONNRESET'),
    withCode('connect ETIMEDOUT', 'ETIMEDOUT'),
    withCode('write EPIPE', 'EPIPE'),
    new Error('Connection terminated unexpectedly'),
    new Error('Connection terminated due to connection timeout'),
    new Error('timeout exceeded when trying to connect'),
    new Error('Client has encountered a connection error and is not queryable'),
    new Error('PGlite is closed'),
    withCode('canceling statement due to statement timeout', '57014'),
    withCode('terminating connection due to administrator command', '57P01'),
    withCode('the database system is starting up', '57P03'),
    withCode('sorry, too many clients already', '53300'),
    withCode('connection failure', '08006'),
    withCode('could not read block', '58030'),
    new AggregateError([withCode('connect ECONNREFUSED ::1:5432', 'ECONNREFUSED')], 'connect failed')
  ]
  for (const error of infrastructure) t.ok(isInfrastructureError(error), error.message)
})

t.test('query errors are not infrastructure: constraints, bad values, bad SQL, anything else', async (t) => {
  const query = [
    withCode('duplicate key value violates unique constraint "users_email_key"', '23505'),
    withCode('new row violates check constraint', '23514'),
    withCode('division by zero', '22012'),
    withCode('invalid input syntax for type uuid', '22P02'),
    withCode('relation "users" does not exist', '42P01'),
    withCode('syntax error at or near "selec"', '42601'),
    withCode('could not serialize access', '40001'),
    new TypeError('cannot read properties of undefined'),
    new Error('no result'),
    'a string',
    null,
    undefined
  ]
  for (const error of query) t.notOk(isInfrastructureError(error), String((error as Error | null)?.message ?? error))
})

class Recorder implements BreakerLog {
  readonly events: Array<Record<string, unknown>> = []
  info (object: Record<string, unknown>): void { this.events.push(object) }
  warn (object: Record<string, unknown>): void { this.events.push(object) }
}

const settings = { timeoutMs: 200, errorThresholdPercent: 50, resetMs: 300, volumeThreshold: 2 }

t.test('query errors pass through unchanged and never open the breaker', async (t) => {
  const breaker = new DatabaseBreaker(settings)
  t.teardown(() => breaker.shutdown())
  const duplicate = withCode('duplicate key', '23505')
  for (let i = 0; i < 20; i++) await t.rejects(breaker.run(async () => { throw duplicate }), duplicate)
  t.equal(breaker.state, 'closed')
  t.equal(await breaker.run(async () => 42), 42)
})

/**
 * The breaker's clock (opossum's timers and Date) is moved by the test instead of waited for:
 * the reset window passes when the test says so, however busy the machine is.
 */
function fakeClock (t: Test): { advance: (ms: number) => Promise<void> } {
  mock.timers.enable({ apis: ['setTimeout', 'setInterval', 'Date'], now: Date.now() })
  t.teardown(() => { mock.timers.reset() })
  return {
    advance: async (ms: number) => {
      mock.timers.tick(ms)
      // What the timers started (the half-open probe) settles on real immediates, not on the fake clock.
      for (let i = 0; i < 10; i++) await settle()
    }
  }
}

t.test('infrastructure failures become DatabaseUnavailableError and open it; it probes, then closes by itself', async (t) => {
  const clock = fakeClock(t)
  const log = new Recorder()
  const breaker = new DatabaseBreaker(settings, log)
  t.teardown(() => breaker.shutdown())
  let databaseUp = false
  breaker.setProbe(async () => breaker.run(async () => { if (!databaseUp) throw withCode('refused', 'ECONNREFUSED') }))

  for (let i = 0; i < 2; i++) {
    await t.rejects(breaker.run(async () => { throw withCode('refused', 'ECONNREFUSED') }), DatabaseUnavailableError)
  }
  t.equal(breaker.state, 'open')
  t.equal(breaker.reason, 'ECONNREFUSED: refused')
  t.equal(breaker.retryAfterSeconds(), 1, 'whole seconds until half-open, at least 1')

  let called = false
  const started = Date.now()
  const refused = await breaker.run(async () => { called = true }).catch((error: unknown) => error)
  t.ok(refused instanceof DatabaseUnavailableError, 'refused while open')
  t.equal((refused as DatabaseUnavailableError).retryAfterSeconds, 1)
  t.notOk(called, 'the call is not even attempted')
  t.equal(Date.now() - started, 0, 'and refused at once: no timer had to run')

  await clock.advance(settings.resetMs - 1)
  t.equal(breaker.state, 'open', 'still open just before the reset window ends')
  await clock.advance(1)
  t.equal(breaker.state, 'open', 'the probe on half-open failed: open again')
  t.same(log.events.map((event) => event.state), ['open', 'half_open', 'open'])
  databaseUp = true
  await clock.advance(settings.resetMs)
  t.equal(breaker.state, 'closed', 'the next probe succeeded: closed')
  t.same(log.events.map((event) => event.state), ['open', 'half_open', 'open', 'half_open', 'closed'])
  t.ok(log.events.every((event) => event.event === 'db_breaker'))
})

t.test('a call slower than the breaker timeout is a failure (503), not a hang', async (t) => {
  const clock = fakeClock(t)
  const breaker = new DatabaseBreaker({ ...settings, timeoutMs: 50, volumeThreshold: 100 })
  t.teardown(() => breaker.shutdown())
  let outcome: unknown = 'pending'
  const call = breaker.run(async () => new Promise<never>(() => {})).catch((error: unknown) => { outcome = error })
  await clock.advance(49)
  t.equal(outcome, 'pending', 'still waiting just before the timeout')
  await clock.advance(1)
  await call
  t.ok(outcome instanceof DatabaseUnavailableError, 'refused with DatabaseUnavailableError once the timeout passed')
})

t.test('retryAfterSeconds counts down to the half-open', async (t) => {
  const clock = fakeClock(t)
  const breaker = new DatabaseBreaker({ ...settings, resetMs: 10_000, volumeThreshold: 1 })
  t.teardown(() => breaker.shutdown())
  await t.rejects(breaker.run(async () => { throw withCode('reset', 'ECONNRESET') }))
  t.equal(breaker.state, 'open')
  t.equal(breaker.retryAfterSeconds(), 10)
  t.equal(breaker.retryAfterSeconds(Date.now() + 4_500), 6)
  t.equal(breaker.retryAfterSeconds(Date.now() + 60_000), 1)
  await clock.advance(4_500)
  t.equal(breaker.retryAfterSeconds(), 6, 'as the clock moves')
})

t.test('a guard slot runs calls as they are until a guard is installed, and after it is released', async (t) => {
  const slot = new GuardSlot()
  const breaker = new DatabaseBreaker({ ...settings, volumeThreshold: 1 })
  t.teardown(() => breaker.shutdown())
  t.equal(await slot.run(async () => 1), 1)
  slot.use(breaker)
  await t.rejects(slot.run(async () => { throw withCode('reset', 'ECONNRESET') }), DatabaseUnavailableError)
  await t.rejects(slot.run(async () => 1), DatabaseUnavailableError, 'refused by the open breaker')
  slot.release(new DatabaseBreaker(settings))
  await t.rejects(slot.run(async () => 1), DatabaseUnavailableError, 'releasing another guard changes nothing')
  slot.release(breaker)
  t.equal(await slot.run(async () => 1), 1)
})
