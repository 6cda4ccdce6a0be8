import fastifyRateLimit, { normalizeIP, type RateLimitPluginOptions } from '@fastify/rate-limit'
import type { FastifyReply, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { AppError } from '../src/errors.js'
import { paths } from '../src/paths.js'
import { counterKey, LocalCounters, SharedCounters } from '../src/rate-limit/counters.js'
import { RATE_LIMIT_RULES, type RateLimitRule } from '../src/rate-limit/rules.js'

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
 * in Redis when REDIS_URL is set (shared by every instance), else in the process (plugins/redis.ts).
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

  const counters = new SharedCounters(app.sharedRedis, new LocalCounters())

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

  app.addHook('onRequest', (request, reply, done) => {
    const rule = request.routeOptions.config.rateLimit
    if (rule === undefined || rule === false) return done()
    limiters[rule.groupId as RateLimitRule](request, reply).then(() => { done() }, done)
  })
}, { name: 'rate-limit', dependencies: ['config', 'errors', 'metrics', 'redis'] })
