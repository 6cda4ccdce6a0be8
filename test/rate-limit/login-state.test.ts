import { randomUUID } from 'node:crypto'
import { Redis } from 'ioredis'
import t, { type Test } from 'tap'
import { loginKeys } from '../../src/auth/login-throttle.js'
import { LocalLoginState, SharedLoginState, type LoginKeys, type LoginLimits, type LoginVerdict } from '../../src/rate-limit/login-state.js'
import { SharedRedis } from '../../src/rate-limit/shared-redis.js'

const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379'

const LIMITS: LoginLimits = {
  pairMaxFailures: 3,
  accountMaxFailures: 5,
  firstWaitMs: 30_000,
  maxWaitMs: 900_000,
  failureMemoryMs: 86_400_000,
  knownAddressMs: 90 * 86_400_000,
  knownAddressesPerLogin: 2
}

/** The steps of the throttle with a clock the test moves: the same whether the state is local or in Redis. */
interface State {
  begin: (keys: LoginKeys, now: number) => Promise<LoginVerdict>
  failed: (keys: LoginKeys, now: number) => Promise<void>
  succeeded: (keys: LoginKeys, now: number, otherLogin?: string) => Promise<void>
  trust: (keys: LoginKeys, now: number) => Promise<void>
  released: (keys: LoginKeys, now: number) => Promise<void>
}

async function local (): Promise<State> {
  const state = new LocalLoginState(LIMITS)
  return {
    begin: async (keys, now) => state.begin(keys, now),
    failed: async (keys, now) => { state.failed(keys, now) },
    succeeded: async (keys, now, otherLogin) => { state.succeeded(keys, otherLogin, now) },
    trust: async (keys, now) => { state.trust(keys, now) },
    released: async (keys, now) => { state.released(keys, now) }
  }
}

async function shared (t: Test): Promise<State> {
  const client = new Redis(REDIS_URL)
  t.teardown(() => { client.disconnect() })
  await client.ping()
  const redis = new SharedRedis(client, `test:login-state:${process.pid}:${randomUUID().slice(0, 8)}:`, (reason) => { t.fail(`fell back: ${reason}`) }, 5000)
  // Any fallback would make this a second test of the local state: fail it instead.
  const state = new SharedLoginState(redis, new LocalLoginState(LIMITS), LIMITS)
  return {
    begin: (keys, now) => state.begin(keys, now),
    failed: (keys, now) => state.failed(keys, now),
    succeeded: (keys, now, otherLogin) => state.succeeded(keys, otherLogin, now),
    trust: (keys, now) => state.trust(keys, now),
    released: (keys, now) => state.released(keys, now)
  }
}

/**
 * `times` attempts of `keys` at `now`, each reported as failed when `failed` (a strike against
 * the login across addresses too); the verdicts of their begin steps.
 */
async function attempts (state: State, keys: LoginKeys, times: number, now: number, failed = false): Promise<Array<string | null>> {
  const verdicts: Array<string | null> = []
  for (let i = 0; i < times; i++) {
    const verdict = await state.begin(keys, now)
    verdicts.push(verdict === null ? null : `${verdict.rule} ${verdict.retryAfterMs}`)
    if (verdict === null && failed) await state.failed(keys, now)
  }
  return verdicts
}

const alice = loginKeys('Alice@Example.com', '203.0.113.1')

for (const [name, make] of [['in the process', local], ['in Redis', shared]] as const) {
  t.test(`${name}: the pair waits after the limit, twice as long each time, capped at 15 min`, async (t) => {
    const state = await make(t)
    const start = 1_000_000
    t.same(await attempts(state, alice, 4, start), [null, null, null, 'login_pair 30000'], 'three attempts, then 30 s')
    t.same(await attempts(state, alice, 1, start + 29_999), ['login_pair 1'])
    t.same(await attempts(state, alice, 2, start + 30_000), [null, 'login_pair 60000'], 'one more attempt, then 60 s')
    let now = start + 90_000
    const waits: number[] = []
    for (let i = 0; i < 7; i++) {
      t.equal(await state.begin(alice, now), null)
      const verdict = await state.begin(alice, now)
      waits.push(verdict?.retryAfterMs ?? 0)
      now += verdict?.retryAfterMs ?? 0
    }
    t.same(waits, [120_000, 240_000, 480_000, 900_000, 900_000, 900_000, 900_000])
  })

  t.test(`${name}: a success starts the pair again; an undecided attempt does not count`, async (t) => {
    const state = await make(t)
    const now = 1_000_000
    t.same(await attempts(state, alice, 2, now), [null, null])
    t.equal(await state.begin(alice, now), null)
    await state.released(alice, now)
    t.equal(await state.begin(alice, now), null)
    await state.succeeded(alice, now)
    t.same(await attempts(state, alice, 4, now), [null, null, null, 'login_pair 30000'], 'three more after the success')
  })

  t.test(`${name}: failures from many addresses hold the login back only where it never signed in`, async (t) => {
    const state = await make(t)
    const now = 1_000_000
    const home = loginKeys('carol', '203.0.113.7')
    await state.trust(home, now)
    for (let i = 0; i < 5; i++) t.same(await attempts(state, loginKeys('carol', `192.0.2.${i}`), 1, now, true), [null])
    t.same(await attempts(state, loginKeys('CAROL', '198.51.100.9'), 1, now), ['login_account 30000'], 'a new address waits')
    t.equal(await state.begin(home, now), null, 'the address it signed in from goes on')
    t.same(await attempts(state, loginKeys('dave', '198.51.100.9'), 1, now), [null], 'another login is not affected')
    t.same(await attempts(state, loginKeys('carol', '198.51.100.9'), 1, now + 30_000), [null], 'the wait ends')
  })

  t.test(`${name}: a success trusts the address under the account's other login too`, async (t) => {
    const state = await make(t)
    const now = 1_000_000
    const [byEmail, byUsername] = [loginKeys('erin@example.com', '203.0.113.8'), loginKeys('erin', '203.0.113.8')]
    t.equal(await state.begin(byEmail, now), null)
    await state.succeeded(byEmail, now, byUsername.login)
    for (let i = 0; i < 5; i++) {
      await attempts(state, loginKeys('erin', `192.0.2.${i}`), 1, now, true)
      await attempts(state, loginKeys('erin@example.com', `192.0.2.${i}`), 1, now, true)
    }
    t.same(await attempts(state, loginKeys('erin', '198.51.100.9'), 1, now), ['login_account 30000'], 'a new address waits')
    t.equal(await state.begin(byUsername, now), null, 'the address is trusted under the username')
    t.equal(await state.begin(byEmail, now), null, 'and under the email it signed in with')
  })
}

t.test('the state in the process has a cap: a flood of logins cannot grow it without bound', async (t) => {
  const state = new LocalLoginState(LIMITS, 100)
  for (let i = 0; i < 1000; i++) {
    const keys = loginKeys(`user-${i}@example.com`, `10.0.${i % 250}.1`)
    state.begin(keys, 1000)
    state.failed(keys, 1000)
    state.succeeded(keys, undefined, 1000)
  }
  t.ok(state.size <= 300, `at most the cap per map (${state.size} entries)`)
})

t.test('keys are short whatever the login and the address, and hold no email', async (t) => {
  const keys = loginKeys(`${'x'.repeat(10_000)}@example.com`, `2001:db8::${'f'.repeat(5000)}`)
  t.ok(keys.login.length <= 64 && keys.address.length <= 64, `${keys.login} / ${keys.address}`)
  t.notMatch(loginKeys('alice@example.com', null).login, /alice|example/)
  t.same(loginKeys('  ALICE@example.com', '::1'), loginKeys('alice@EXAMPLE.com', '::1'), 'spellings that find one account share a key')
  t.same(loginKeys('a', '2001:db8:1:2:3::1').address, loginKeys('a', '2001:db8:1:2:ffff::9').address, 'IPv6 counts per /64')
})
