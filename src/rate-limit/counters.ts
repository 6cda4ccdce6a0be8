import { createHash } from 'node:crypto'
import type { Redis } from 'ioredis'
import { BoundedMap } from './bounded-map.js'
import type { SharedRedis } from './shared-redis.js'

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
  readonly #entries: BoundedMap<{ count: number, resetAt: number }>

  constructor (capacity = 10000) {
    this.#entries = new BoundedMap(capacity)
  }

  incr (key: string, windowMs: number, now = Date.now()): Count {
    const entry = this.#entries.get(key, now) ?? { count: 0, resetAt: now + windowMs }
    entry.count += 1
    this.#entries.set(key, entry, entry.resetAt - now, now)
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

/** Fixed-window counters in Redis when it answers in time, else in this process (see SharedRedis). */
export class SharedCounters {
  constructor (private readonly redis: SharedRedis, private readonly local: LocalCounters) {
    redis.define('userServiceRateLimit', 1, INCREMENT_SCRIPT)
  }

  async incr (key: string, windowMs: number): Promise<Count> {
    return this.redis.run(async (client) => {
      const [current, ttl] = await (client as Redis & RateLimitCommands).userServiceRateLimit(`${this.redis.keyPrefix}${key}`, windowMs)
      return { current, ttl: Math.max(1, ttl) }
    }, () => this.local.incr(key, windowMs))
  }
}
