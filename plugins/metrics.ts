import fp from 'fastify-plugin'
import type { AuthService } from '../src/auth/auth.service.js'
import type { PasswordHasher } from '../src/auth/passwords.js'
import { AppError } from '../src/errors.js'
import { ServiceMetrics } from '../src/metrics.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** Prometheus metrics of this app instance (null when METRICS_ENABLED=false). */
    metrics: ServiceMetrics | null
  }
}

/** Login failures that are the credentials' fault, as opposed to outages or bad requests. */
const LOGIN_FAILURES = new Set(['invalid_credentials', 'account_disabled'])

/**
 * `GET /metrics` in Prometheus text format, outside the API prefix. Request durations come
 * from an onResponse hook; logins and password hashing are measured at the service boundary
 * (the services themselves know nothing of metrics).
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
  instrumentPasswords(app.passwords, metrics)
  instrumentLogins(app.authService, metrics)

  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unmatched'
    metrics.httpDuration.observe({ method: request.method, route, status_code: String(reply.statusCode) }, reply.elapsedTime / 1000)
  })

  app.get('/metrics', { schema: { hide: true } }, async (_request, reply) => {
    return reply.header('cache-control', 'no-store').type(metrics.registry.contentType).send(await metrics.registry.metrics())
  })
}, { name: 'metrics', dependencies: ['config', 'breaker', 'db', 'auth', 'services'] })

function instrumentPasswords (passwords: PasswordHasher, metrics: ServiceMetrics): void {
  const hash = passwords.hash.bind(passwords)
  const verify = passwords.verifyOrDummy.bind(passwords)
  passwords.hash = async (password) => metrics.timeHashing('hash', async () => hash(password))
  passwords.verifyOrDummy = async (...args: Parameters<PasswordHasher['verifyOrDummy']>) => metrics.timeHashing('verify', async () => verify(...args))
}

function instrumentLogins (auth: AuthService, metrics: ServiceMetrics): void {
  const verifyCredentials = auth.verifyCredentials.bind(auth)
  auth.verifyCredentials = async (login, password) => {
    try {
      const user = await verifyCredentials(login, password)
      metrics.logins.inc({ result: 'success' })
      return user
    } catch (error) {
      if (error instanceof AppError && LOGIN_FAILURES.has(error.code)) metrics.logins.inc({ result: 'failure' })
      throw error
    }
  }
}
