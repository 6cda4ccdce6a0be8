import type { Redis } from 'ioredis'
import { BoundedMap } from './bounded-map.js'
import type { SharedRedis } from './shared-redis.js'

/** The numbers of the login throttle (DESIGN "Abuse resistance"). */
export interface LoginLimits {
  /** Consecutive failures of one (login, address) pair before it waits: LOGIN_MAX_FAILURES. */
  pairMaxFailures: number
  /** Failures of one login from every address before addresses it never signed in from wait. */
  accountMaxFailures: number
  /** The first wait; each further failure doubles it, up to `maxWaitMs`. */
  firstWaitMs: number
  maxWaitMs: number
  /** How long failures are remembered after the last one. */
  failureMemoryMs: number
  /** How long an address the login signed in from stays trusted after its last sign-in. */
  knownAddressMs: number
  /** Trusted addresses kept per login (the newest). */
  knownAddressesPerLogin: number
}

/** Which rule refused a sign-in: the (login, address) pair, or the login across addresses. */
export type LoginRule = 'login_pair' | 'login_account'

/** A refusal and the ms until the rule lets the pair try again; null: go on (the attempt is counted). */
export type LoginVerdict = { rule: LoginRule, retryAfterMs: number } | null

/** The keys of one sign-in: the login's (a digest, so a key is short whatever was typed) and the address's. */
export interface LoginKeys {
  login: string
  address: string
}

interface Strikes {
  count: number
  /** Until when (ms since the epoch) the next attempt waits; 0 when it need not. */
  until: number
}

/** `count` strikes against `max`: the time the next attempt waits until (0 below the limit). */
export function waitUntil (count: number, max: number, limits: LoginLimits, now: number): number {
  if (count < max) return 0
  return now + Math.min(limits.firstWaitMs * 2 ** (count - max), limits.maxWaitMs)
}

/** The login state in this process, each map capped (least recently written out first). */
export class LocalLoginState {
  readonly #pairs: BoundedMap<Strikes>
  readonly #accounts: BoundedMap<Strikes>
  readonly #known: BoundedMap<string[]>

  constructor (private readonly limits: LoginLimits, capacity = 50_000) {
    this.#pairs = new BoundedMap(capacity)
    this.#accounts = new BoundedMap(capacity)
    this.#known = new BoundedMap(capacity)
  }

  begin ({ login, address }: LoginKeys, now = Date.now()): LoginVerdict {
    const pairKey = `${login}:${address}`
    const pair = this.#pairs.get(pairKey, now)
    if (pair !== undefined && pair.until > now) return { rule: 'login_pair', retryAfterMs: pair.until - now }
    const account = this.#accounts.get(login, now)
    if (account !== undefined && account.until > now && !(this.#known.get(login, now)?.includes(address) ?? false)) {
      return { rule: 'login_account', retryAfterMs: account.until - now }
    }
    this.#strike(this.#pairs, pairKey, pair, this.limits.pairMaxFailures, now)
    return null
  }

  failed ({ login }: LoginKeys, now = Date.now()): void {
    this.#strike(this.#accounts, login, this.#accounts.get(login, now), this.limits.accountMaxFailures, now)
  }

  /**
   * The password was right: the pair starts again, and the address is trusted for this login
   * and for `otherLogin`, the account's other login (a digest, as `keys.login`), if any.
   */
  succeeded (keys: LoginKeys, otherLogin?: string, now = Date.now()): void {
    this.#pairs.delete(`${keys.login}:${keys.address}`)
    this.trust(keys, now)
    if (otherLogin !== undefined) this.trust({ login: otherLogin, address: keys.address }, now)
  }

  /** `address` signed in to the account that `login` names: the account-wide rule lets it through. */
  trust ({ login, address }: LoginKeys, now = Date.now()): void {
    const known = (this.#known.get(login, now) ?? []).filter((entry) => entry !== address)
    known.push(address)
    this.#known.set(login, known.slice(-this.limits.knownAddressesPerLogin), this.limits.knownAddressMs, now)
  }

  /** Takes back the strike of an attempt that ended without an answer about the password (an outage). */
  released ({ login, address }: LoginKeys, now = Date.now()): void {
    const pairKey = `${login}:${address}`
    const pair = this.#pairs.get(pairKey, now)
    if (pair === undefined) return
    const count = pair.count - 1
    if (count <= 0) this.#pairs.delete(pairKey)
    else this.#pairs.set(pairKey, { count, until: count < this.limits.pairMaxFailures ? 0 : pair.until }, this.limits.failureMemoryMs, now)
  }

  /** Entries held, over every map. */
  get size (): number {
    return this.#pairs.size + this.#accounts.size + this.#known.size
  }

  #strike (map: BoundedMap<Strikes>, key: string, previous: Strikes | undefined, max: number, now: number): void {
    const count = (previous?.count ?? 0) + 1
    map.set(key, { count, until: waitUntil(count, max, this.limits, now) }, this.limits.failureMemoryMs, now)
  }
}

/** Lua for one more strike on the hash KEYS[k]: ARGV now, max, first wait, max wait, memory (ms). */
const STRIKE = `
local function strike (key, now, max)
  local count = redis.call('HINCRBY', key, 'count', 1)
  if count >= max then
    redis.call('HSET', key, 'until', now + math.min(tonumber(ARGV[3]) * 2 ^ (count - max), tonumber(ARGV[4])))
  end
  redis.call('PEXPIRE', key, ARGV[5])
end
`

/** KEYS pair, account, known; ARGV now, pair max, first wait, max wait, memory, address. Returns {rule, ms}: 0 go on, 1 pair, 2 account. */
const BEGIN = `${STRIKE}
local now = tonumber(ARGV[1])
local pairUntil = tonumber(redis.call('HGET', KEYS[1], 'until') or 0)
if pairUntil > now then return {1, pairUntil - now} end
local accountUntil = tonumber(redis.call('HGET', KEYS[2], 'until') or 0)
if accountUntil > now and not redis.call('ZSCORE', KEYS[3], ARGV[6]) then return {2, accountUntil - now} end
strike(KEYS[1], now, tonumber(ARGV[2]))
return {0, 0}
`

/** KEYS account; ARGV now, account max, first wait, max wait, memory. */
const FAILED = `${STRIKE}
strike(KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]))
`

/** Lua that trusts ARGV[2] (the address) in the set KEYS[k]: ARGV now, address, known ms, known per login. */
const TRUSTED = `
local function trust (key)
  redis.call('ZADD', key, ARGV[1], ARGV[2])
  redis.call('ZREMRANGEBYRANK', key, 0, -1 - tonumber(ARGV[4]))
  redis.call('PEXPIRE', key, ARGV[3])
end
`

/** KEYS known; ARGV now, address, known ms, known per login. */
const TRUST = `${TRUSTED}
trust(KEYS[1])
`

/**
 * KEYS pair, known, the other login's known (or known again); ARGV as TRUST: the pair starts
 * again and the address is trusted under both logins of the account, in one round trip.
 */
const SUCCEEDED = `${TRUSTED}
redis.call('DEL', KEYS[1])
trust(KEYS[2])
if KEYS[3] ~= KEYS[2] then trust(KEYS[3]) end
`

/** KEYS pair; ARGV pair max. */
const RELEASED = `
if redis.call('EXISTS', KEYS[1]) == 0 then return end
local count = redis.call('HINCRBY', KEYS[1], 'count', -1)
if count <= 0 then redis.call('DEL', KEYS[1]) elseif count < tonumber(ARGV[1]) then redis.call('HDEL', KEYS[1], 'until') end
`

interface LoginCommands {
  loginBegin: (...args: Array<string | number>) => Promise<[number, number]>
  loginFailed: (...args: Array<string | number>) => Promise<unknown>
  loginTrust: (...args: Array<string | number>) => Promise<unknown>
  loginSucceeded: (...args: Array<string | number>) => Promise<unknown>
  loginReleased: (...args: Array<string | number>) => Promise<unknown>
}

const RULES: Record<number, LoginRule> = { 1: 'login_pair', 2: 'login_account' }

/**
 * The login state in Redis when it answers within its budget, else in this process (SharedRedis).
 * One round trip per step (a Lua script where a step reads and writes). The keys of one login share a hash
 * tag; a success writes under both logins of the account at once, so the state needs one Redis, not a Cluster.
 */
export class SharedLoginState {
  constructor (private readonly redis: SharedRedis, private readonly local: LocalLoginState, private readonly limits: LoginLimits) {
    redis.define('loginBegin', 3, BEGIN)
    redis.define('loginFailed', 1, FAILED)
    redis.define('loginTrust', 1, TRUST)
    redis.define('loginSucceeded', 3, SUCCEEDED)
    redis.define('loginReleased', 1, RELEASED)
  }

  async begin (keys: LoginKeys, now = Date.now()): Promise<LoginVerdict> {
    const { pairMaxFailures, firstWaitMs, maxWaitMs, failureMemoryMs } = this.limits
    return this.redis.run(async (client) => {
      const [rule, ms] = await commands(client).loginBegin(this.#key(keys, 'pair'), this.#key(keys, 'account'), this.#key(keys, 'known'),
        now, pairMaxFailures, firstWaitMs, maxWaitMs, failureMemoryMs, keys.address)
      const refusedBy = RULES[rule]
      return refusedBy === undefined ? null : { rule: refusedBy, retryAfterMs: ms }
    }, () => this.local.begin(keys, now))
  }

  async failed (keys: LoginKeys, now = Date.now()): Promise<void> {
    const { accountMaxFailures, firstWaitMs, maxWaitMs, failureMemoryMs } = this.limits
    await this.redis.run((client) => commands(client).loginFailed(this.#key(keys, 'account'), now, accountMaxFailures, firstWaitMs, maxWaitMs, failureMemoryMs),
      () => { this.local.failed(keys, now) })
  }

  async succeeded (keys: LoginKeys, otherLogin?: string, now = Date.now()): Promise<void> {
    const otherKnown = this.#key({ login: otherLogin ?? keys.login, address: keys.address }, 'known')
    await this.redis.run((client) => commands(client).loginSucceeded(this.#key(keys, 'pair'), this.#key(keys, 'known'), otherKnown,
      now, keys.address, this.limits.knownAddressMs, this.limits.knownAddressesPerLogin), () => { this.local.succeeded(keys, otherLogin, now) })
  }

  async trust (keys: LoginKeys, now = Date.now()): Promise<void> {
    await this.redis.run((client) => commands(client).loginTrust(this.#key(keys, 'known'),
      now, keys.address, this.limits.knownAddressMs, this.limits.knownAddressesPerLogin), () => { this.local.trust(keys, now) })
  }

  async released (keys: LoginKeys, now = Date.now()): Promise<void> {
    await this.redis.run((client) => commands(client).loginReleased(this.#key(keys, 'pair'), this.limits.pairMaxFailures),
      () => { this.local.released(keys, now) })
  }

  #key (keys: LoginKeys, part: 'pair' | 'account' | 'known'): string {
    const base = `${this.redis.keyPrefix}login:{${keys.login}}`
    return part === 'pair' ? `${base}:pair:${keys.address}` : `${base}:${part}`
  }
}

function commands (client: Redis): LoginCommands {
  return client as unknown as LoginCommands
}
