import fp from 'fastify-plugin'
import { Redis } from 'ioredis'
import { redactRedisUrl, SharedRedis } from '../src/rate-limit/shared-redis.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** Where the rate limits and the login throttle keep their counters: Redis (REDIS_URL) with the process as fallback. */
    sharedRedis: SharedRedis
  }
}

/** At most one warning per this many ms while Redis is unavailable. */
const WARN_INTERVAL_MS = 60_000

/**
 * The Redis client of the limits, when REDIS_URL is set and the limits are on. A Redis that is
 * down or slower than REDIS_TIMEOUT_MS (50 ms) makes a request count in the process instead:
 * logged at most once a minute, counted in rate_limit_redis_fallbacks_total. The start never
 * fails because of Redis.
 */
export default fp(async (app) => {
  const settings = app.config.redis
  if (settings === null || !app.config.rateLimit.enabled) {
    app.decorate('sharedRedis', new SharedRedis(null, '', () => {}))
    return
  }
  const client = new Redis(settings.url, {
    // The budget of a request is REDIS_TIMEOUT_MS (SharedRedis); this only drops what a hung Redis never answers.
    commandTimeout: Math.max(1000, settings.timeoutMs * 4),
    connectTimeout: 2000,
    // Down means down: commands fail at once instead of waiting for a reconnection.
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    retryStrategy: (attempt) => Math.min(attempt * 100, 2000)
  })

  let lastWarning = -Infinity
  const warn = (reason: string): void => {
    const now = Date.now()
    if (now - lastWarning < WARN_INTERVAL_MS) return
    lastWarning = now
    app.log.warn({ redis: redactRedisUrl(settings.url), reason },
      'rate limits: Redis is unavailable, counting in this process until it is back')
  }
  app.decorate('sharedRedis', new SharedRedis(client, settings.keyPrefix, (reason) => {
    app.metrics?.rateLimitFallbacks.inc()
    warn(reason)
  }, settings.timeoutMs))

  // ioredis reports connection errors as events (and prints them when nobody listens).
  client.on('error', (error: Error) => { warn(error.message) })
  app.addHook('onClose', async () => {
    if (client.status === 'ready') {
      await Promise.race([client.quit().catch(() => {}), new Promise((resolve) => setTimeout(resolve, 1000).unref())])
    }
    client.disconnect()
  })
  // Start with a connected client: wait for Redis to be ready or to fail (refused at once, or
  // connectTimeout), at most 5 s on a busy machine.
  await new Promise<void>((resolve) => {
    const done = (): void => { clearTimeout(timer); client.off('ready', done); client.off('error', done); resolve() }
    const timer = setTimeout(done, 5000)
    client.once('ready', done).once('error', done)
  })
}, { name: 'redis', dependencies: ['config', 'metrics'] })
