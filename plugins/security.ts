import fastifyCors from '@fastify/cors'
import fastifyHelmet from '@fastify/helmet'
import fp from 'fastify-plugin'

/** Security headers (helmet) and CORS for the configured browser origins. */
export default fp(async (app) => {
  await app.register(fastifyHelmet, {
    // Swagger UI sets its own CSP on /docs (see plugins/swagger.ts); the API answers JSON only.
    contentSecurityPolicy: {
      useDefaults: false,
      directives: {
        defaultSrc: ["'none'"],
        frameAncestors: ["'none'"]
      }
    },
    hsts: app.config.publicUrl.startsWith('https://')
  })

  const origins = app.config.corsOrigins
  await app.register(fastifyCors, {
    origin: origins.includes('*') ? true : origins.length === 0 ? false : origins,
    methods: ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'],
    allowedHeaders: ['Authorization', 'Content-Type', 'X-Request-ID'],
    exposedHeaders: ['Location', 'X-Request-ID', 'Retry-After', 'WWW-Authenticate'],
    maxAge: 600
  })
}, { name: 'security', dependencies: ['config'] })
