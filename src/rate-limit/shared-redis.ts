import type { Redis } from 'ioredis'

/** After a failed or slow Redis call, work is done in the process for this long before Redis is tried again. */
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
 * The Redis that the limits share between instances, used so that a request never waits for a
 * Redis that is down or slow. Every call has a budget (REDIS_TIMEOUT_MS, 50 ms) and is made
 * only while the connection is up; after a failed or slow call Redis is left alone for
 * REDIS_RETRY_MS, so a Redis that hangs costs one request a second its budget, not every
 * request. Whenever Redis is not used, the work is done in the process instead and
 * `onFallback` hears why. Without REDIS_URL (`client` null) everything is in the process.
 */
export class SharedRedis {
  #retryAt = 0

  constructor (
    readonly client: Redis | null,
    readonly keyPrefix: string,
    private readonly onFallback: (reason: string) => void,
    private readonly budgetMs = 50
  ) {}

  /** `remote(client)` within the budget, else `local()`. */
  async run<T> (remote: (client: Redis) => Promise<T>, local: () => T): Promise<T> {
    const client = this.client
    if (client === null) return local()
    if (client.status !== 'ready') {
      this.onFallback(`not connected (${client.status})`)
      return local()
    }
    if (Date.now() < this.#retryAt) {
      this.onFallback('a recent call failed or took longer than the budget')
      return local()
    }
    try {
      return await withinBudget(remote(client), this.budgetMs)
    } catch (error) {
      this.#retryAt = Date.now() + REDIS_RETRY_MS
      this.onFallback(error instanceof Error ? error.message : String(error))
      return local()
    }
  }

  /** Defines a Lua script as a command of the client (once per client). */
  define (name: string, numberOfKeys: number, lua: string): void {
    if (this.client !== null && !(name in this.client)) this.client.defineCommand(name, { numberOfKeys, lua })
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
