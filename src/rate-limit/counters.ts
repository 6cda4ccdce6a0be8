import { createHash } from 'node:crypto'
import type { Redis } from 'ioredis'

/** A fixed-window counter after one more request: the count in this window and the ms until it ends. */
export interface Count {
  current: number
  ttl: number
}

/** Key material longer than this (an address from an untrusted header can be anything) is hashed. */
const MAX_KEY_MATERIAL = 64

/** The counter key of a client address: the address itself, or its SHA-256 when it is long. */
export function counterKey (material: string): string {
  if (material.length <= MAX_KEY_MATERIAL) return material
  return `sha256:${createHash('sha256').update(material).digest('base64url')}`
}

/**
 * Fixed-window counters in this process, at most `capacity` keys: the least recently used key
 * goes first, so a flood of addresses cannot grow memory without bound.
 */
export class LocalCounters {
  readonly #entries = new Map<string, { count: number, resetAt: number }>()

  constructor (private readonly capacity = 10000) {}

  incr (key: string, windowMs: number, now = Date.now()): Count {
    let entry = this.#entries.get(key)
    if (entry === undefined || entry.resetAt <= now) entry = { count: 0, resetAt: now + windowMs }
    this.#entries.delete(key)
    entry.count += 1
    this.#entries.set(key, entry)
    if (this.#entries.size > this.capacity) {
      const oldest = this.#entries.keys().next().value
      if (oldest !== undefined) this.#entries.delete(oldest)
    }
    return { current: entry.count, ttl: Math.max(1, entry.resetAt - now) }
  }

  get size (): number {
    return this.#entries.size
  }
}

/** INCR with the window's expiry set by the first request, in one round trip; returns [count, ms left]. */
const INCREMENT_SCRIPT = `
local current = redis.call('INCR', KEYS[1])
local ttl = redis.call('PTTL', KEYS[1])
if current == 1 or ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {current, ttl}
`

interface RateLimitCommands {
  userServiceRateLimit: (key: string, windowMs: number) => Promise<[number, number]>
}

/** After a failed or slow Redis call, requests count in the process for this long before Redis is tried again. */
export const REDIS_RETRY_MS = 1000

/**
 * `promise`, or a rejection when it has not settled within `ms`. An answer that arrived while
 * the event loop was busy (PGlite runs on it) is read in the poll phase, which comes after the
 * timers and before setImmediate: it still wins, so a busy process is not taken for a slow Redis.
 */
export function withinBudget<T> (promise: Promise<T>, ms: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      setImmediate(() => { reject(new Error(`Redis did not answer within ${ms} ms`)) })
    }, ms)
    promise.then((value) => { clearTimeout(timer); resolve(value) }, (error: unknown) => { clearTimeout(timer); reject(error) })
  })
}

/**
 * Counters in Redis when it answers, else in this process. Every Redis call has a budget
 * (REDIS_TIMEOUT_MS, 50 ms) and is made only while the connection is up, so a request never
 * waits for a Redis that is down; after a failed or slow call, Redis is left alone for
 * REDIS_RETRY_MS, so a Redis that hangs costs one request a second its budget, not every
 * request. `onFallback` hears each request counted locally instead.
 */
export class SharedCounters {
  #retryAt = 0

  constructor (
    private readonly redis: Redis | null,
    private readonly keyPrefix: string,
    private readonly local: LocalCounters,
    private readonly onFallback: (reason: string) => void,
    private readonly budgetMs = 50
  ) {
    if (redis !== null && !('userServiceRateLimit' in redis)) {
      redis.defineCommand('userServiceRateLimit', { numberOfKeys: 1, lua: INCREMENT_SCRIPT })
    }
  }

  async incr (key: string, windowMs: number): Promise<Count> {
    const redis = this.redis
    if (redis === null) return this.local.incr(key, windowMs)
    if (redis.status !== 'ready') {
      this.onFallback(`not connected (${redis.status})`)
      return this.local.incr(key, windowMs)
    }
    if (Date.now() < this.#retryAt) {
      this.onFallback('a recent call failed or took longer than the budget')
      return this.local.incr(key, windowMs)
    }
    try {
      const command = (redis as Redis & RateLimitCommands).userServiceRateLimit(`${this.keyPrefix}${key}`, windowMs)
      const [current, ttl] = await withinBudget(command, this.budgetMs)
      return { current, ttl: Math.max(1, ttl) }
    } catch (error) {
      this.#retryAt = Date.now() + REDIS_RETRY_MS
      this.onFallback(error instanceof Error ? error.message : String(error))
      return this.local.incr(key, windowMs)
    }
  }
}

/** A Redis URL fit for a log line: its password (and user name) replaced. */
export function redactRedisUrl (url: string): string {
  try {
    const parsed = new URL(url)
    if (parsed.password !== '') parsed.password = '***'
    if (parsed.username !== '' && parsed.username !== 'default') parsed.username = '***'
    return parsed.toString()
  } catch {
    return 'redis://(unparsable URL)'
  }
}
