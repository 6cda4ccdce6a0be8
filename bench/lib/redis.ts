import { Redis } from 'ioredis'

/** Where the bench looks for Redis: BENCH_REDIS_URL, else the local one CI starts. */
export const DEFAULT_BENCH_REDIS_URL = 'redis://127.0.0.1:6379'

/** host:port of a Redis URL, for messages (never its password). */
export function redisAddress (url: string): string {
  try {
    const parsed = new URL(url)
    return `${parsed.hostname}:${parsed.port === '' ? '6379' : parsed.port}`
  } catch {
    return '(unparsable REDIS URL)'
  }
}

/** A client that fails at once instead of retrying or queueing: the bench must never hang on Redis. */
function client (url: string): Redis {
  return new Redis(url, { lazyConnect: true, connectTimeout: 2000, commandTimeout: 2000, maxRetriesPerRequest: 0, enableOfflineQueue: false, retryStrategy: () => null })
}

/** Within `ms`, or a rejection saying what did not answer. */
async function bounded<T> (work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_resolve, reject) => { timer = setTimeout(() => { reject(new Error(`${what} did not answer within ${ms} ms`)) }, ms) })
  try {
    return await Promise.race([work, timeout])
  } finally {
    clearTimeout(timer)
  }
}

/** Null when Redis at `url` answers PING within 3 s, else why not. */
export async function redisUnreachable (url: string): Promise<string | null> {
  const redis = client(url)
  // The connection's own error (ECONNREFUSED...) says more than the "Connection is closed." that connect() rejects with.
  let cause: string | undefined
  redis.on('error', (error: Error) => { cause ??= error.message })
  try {
    await bounded(redis.connect().then(async () => redis.ping()), 3000, 'Redis')
    return null
  } catch (error) {
    return cause ?? (error instanceof Error ? error.message : String(error))
  } finally {
    redis.disconnect()
  }
}

/**
 * Deletes the keys under `prefix` (a run's own prefix): login throttling remembers addresses
 * for days, and the bench must not leave that in a Redis it shares. At most 30 s.
 */
export async function deleteKeys (url: string, prefix: string): Promise<number> {
  const redis = client(url)
  redis.on('error', () => {})
  const work = async (): Promise<number> => {
    await redis.connect()
    let cursor = '0'
    let deleted = 0
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000)
      if (keys.length > 0) deleted += await redis.unlink(...keys)
      cursor = next
    } while (cursor !== '0')
    return deleted
  }
  try {
    return await bounded(work(), 30_000, 'Redis (deleting the bench keys)')
  } finally {
    redis.disconnect()
  }
}
