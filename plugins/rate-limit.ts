import fastifyRateLimit, { normalizeIP, type RateLimitPluginOptions } from '@fastify/rate-limit'
import type { FastifyReply, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { Redis } from 'ioredis'
import { AppError } from '../src/errors.js'
import { paths } from '../src/paths.js'
import { counterKey, LocalCounters, redactRedisUrl, SharedCounters } from '../src/rate-limit/counters.js'
import { RATE_LIMIT_RULES, type RateLimitRule } from '../src/rate-limit/rules.js'

/** At most one warning per this many ms while Redis is unavailable. */
const WARN_INTERVAL_MS = 60_000

type Limiter = (request: FastifyRequest, reply: FastifyReply) => Promise<unknown>

/**
 * Per-IP limits on every /auth route (@fastify/rate-limit). A route names its rule in its
 * config (`config: rateLimited('signin')`, i.e. `config.rateLimit.groupId`); routes of one
 * rule share a counter per address; a route under /auth without a rule is refused at start.
 *
 * The limit runs in an onRequest hook of the root, so it comes before the hooks of the route
 * plugins (the database gate, `authenticate`), before body parsing and before any password
 * hashing. @fastify/rate-limit is registered in a scope of its own, so its onRoute hook does
 * not add a second, later hook to the routes; its `rateLimit()` builds one limiter per rule:
 * `RateLimit-Limit`/`-Remaining`/`-Reset` (IETF draft) on every answer, `Retry-After` and a
 * `too_many_requests` error (problem+json, or RFC 6749 on the OAuth endpoints) past the limit.
 *
 * The client address is `request.ip`, which Fastify computes with TRUST_PROXY. Counters live
 * in Redis when REDIS_URL is set (shared by every instance), else in the process; a Redis that
 * is down or slower than REDIS_TIMEOUT_MS (50 ms) makes the request count in the process (logged
 * at most once a minute, counted in rate_limit_redis_fallbacks_total).
 */
export default fp(async (app) => {
  const settings = app.config.rateLimit
  app.addHook('onRoute', (route) => {
    if (route.url === undefined || !route.url.startsWith(`${paths.auth}/`)) return
    const rule = route.config?.rateLimit
    if (rule === false) return
    if (rule === undefined || !RATE_LIMIT_RULES.includes(rule.groupId as RateLimitRule)) {
      throw new Error(`${String(route.method)} ${route.url}: every /auth route names its rate-limit rule (config: rateLimited(...), one of ${RATE_LIMIT_RULES.join(', ')})`)
    }
  })
  if (!settings.enabled) return

  const redisSettings = app.config.redis
  const redis = redisSettings === null
    ? null
    : new Redis(redisSettings.url, {
      // The budget of a request is REDIS_TIMEOUT_MS (SharedCounters); this only drops what a hung Redis never answers.
      commandTimeout: Math.max(1000, redisSettings.timeoutMs * 4),
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
    app.log.warn({ redis: redisSettings === null ? undefined : redactRedisUrl(redisSettings.url), reason },
      'rate limits: Redis is unavailable, counting in this process until it is back')
  }
  const counters = new SharedCounters(redis, redisSettings?.keyPrefix ?? '', new LocalCounters(), (reason) => {
    app.metrics?.rateLimitFallbacks.inc()
    warn(reason)
  }, redisSettings?.timeoutMs)
  if (redis !== null) {
    // ioredis reports connection errors as events (and prints them when nobody listens).
    redis.on('error', (error: Error) => { warn(error.message) })
    app.addHook('onClose', async () => {
      if (redis.status === 'ready') {
        await Promise.race([redis.quit().catch(() => {}), new Promise((resolve) => setTimeout(resolve, 1000).unref())])
      }
      redis.disconnect()
    })
    // Start with a connected client: wait for Redis to be ready or to fail (refused at once, or
    // connectTimeout), at most 5 s on a busy machine; never fail the start because of it.
    await new Promise<void>((resolve) => {
      const done = (): void => { clearTimeout(timer); redis.off('ready', done); redis.off('error', done); resolve() }
      const timer = setTimeout(done, 5000)
      redis.once('ready', done).once('error', done)
    })
  }

  // The store contract of @fastify/rate-limit over the counters above; keys are already per rule.
  class Store {
    incr (key: string, callback: (error: Error | null, result?: { current: number, ttl: number }) => void, timeWindow: number): void {
      counters.incr(`rate-limit:${key}`, timeWindow).then((count) => { callback(null, count) }, callback)
    }

    child (): Store {
      return this
    }
  }

  const limiters = {} as Record<RateLimitRule, Limiter>
  await app.register(async (scope) => {
    const options: RateLimitPluginOptions = {
      global: false,
      enableDraftSpec: true,
      store: Store,
      // IPv6 clients count per /64, as the plugin does by default; then ":" and the rule (its groupId).
      keyGenerator: (request) => `${counterKey(normalizeIP(request.ip, 64))}:`,
      errorResponseBuilder: (request, context) => {
        const seconds = Math.max(1, Math.ceil(context.ttl / 1000))
        const rule = (request.routeOptions.config.rateLimit || undefined)?.groupId ?? 'unknown'
        app.metrics?.rateLimited.inc({ rule })
        return new AppError('too_many_requests', `too many requests from this address; try again in ${seconds} s`, {
          headers: { 'retry-after': String(seconds) }
        })
      }
    }
    await scope.register(fastifyRateLimit, options)
    for (const rule of RATE_LIMIT_RULES) {
      limiters[rule] = scope.rateLimit({ max: settings.max[rule], timeWindow: settings.windowMs, groupId: rule })
    }
  })

  app.addHook('onRequest', async (request, reply) => {
    const rule = request.routeOptions.config.rateLimit
    if (rule === undefined || rule === false) return
    await limiters[rule.groupId as RateLimitRule](request, reply)
  })
}, { name: 'rate-limit', dependencies: ['config', 'errors', 'metrics'] })
