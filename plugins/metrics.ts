import fp from 'fastify-plugin'
import { ServiceMetrics } from '../src/metrics.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** Prometheus metrics of this app instance (null when METRICS_ENABLED=false). */
    metrics: ServiceMetrics | null
  }
}

/**
 * `GET /metrics` in Prometheus text format, outside the API prefix. Request durations come
 * from an onResponse hook; the password hasher and the auth service report password work and
 * sign-ins to `app.metrics`, which the auth and services plugins pass them as their observer.
 */
export default fp(async (app) => {
  if (!app.config.metricsEnabled) {
    app.decorate('metrics', null)
    return
  }
  const metrics = new ServiceMetrics()
  app.decorate('metrics', metrics)
  metrics.watchBreaker(app.dbBreaker)
  if (app.dbPool !== null) metrics.watchPool(app.dbPool)

  app.addHook('onResponse', (request, reply, done) => {
    metrics.httpDuration.observe(request.method, request.routeOptions.url ?? 'unmatched', reply.statusCode, reply.elapsedTime / 1000)
    done()
  })

  app.get('/metrics', { schema: { hide: true } }, async (_request, reply) => {
    return reply.header('cache-control', 'no-store').type(metrics.registry.contentType).send(await metrics.registry.metrics())
  })
}, { name: 'metrics', dependencies: ['config', 'breaker', 'db'] })
