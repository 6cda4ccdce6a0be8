import fastifyCors from '@fastify/cors'
import fp from 'fastify-plugin'
import helmet, { type HelmetOptions } from 'helmet'

/**
 * The headers helmet would set, computed once: they depend only on the configuration, and
 * @fastify/helmet rebuilds helmet's middleware (parsing the CSP) on every request.
 */
function securityHeaders (options: HelmetOptions): Record<string, string> {
  const headers: Record<string, string> = {}
  const response = {
    setHeader: (name: string, value: string) => { headers[name.toLowerCase()] = value },
    removeHeader: (name: string) => { delete headers[name.toLowerCase()] }
  }
  helmet(options)({} as never, response as never, () => {})
  return headers
}

/** Security headers on every response and CORS for the configured browser origins. */
export default fp(async (app) => {
  const headers = securityHeaders({
    // Swagger UI sets its own CSP on /docs (see plugins/swagger.ts); the API answers JSON only.
    contentSecurityPolicy: {
      useDefaults: false,
      directives: {
        defaultSrc: ["'none'"],
        frameAncestors: ["'none'"]
      }
    },
    strictTransportSecurity: app.config.publicUrl.startsWith('https://')
  })
  app.addHook('onRequest', (_request, reply, done) => {
    reply.headers(headers)
    done()
  })

  const origins = app.config.corsOrigins
  // No origins, no CORS: @fastify/cors would add no header and leave preflights unanswered
  // (404) as Fastify does without it, at the cost of a hook on every request.
  if (origins.length === 0) return
  await app.register(fastifyCors, {
    origin: origins.includes('*') ? true : origins,
    methods: ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'],
    allowedHeaders: ['Authorization', 'Content-Type', 'X-Request-ID'],
    exposedHeaders: ['Location', 'X-Request-ID', 'Retry-After', 'WWW-Authenticate', 'RateLimit-Limit', 'RateLimit-Remaining', 'RateLimit-Reset'],
    maxAge: 600
  })
}, { name: 'security', dependencies: ['config'] })
