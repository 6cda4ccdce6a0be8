import type { FastifyPluginAsync } from 'fastify'
import adminRoutes from './admin/index.js'
import sessionRoutes from './auth/sessions.js'
import usersRoutes from './users/index.js'

/**
 * Everything registered here needs a valid bearer token of an active user: the hook sits on
 * this plugin, so a route cannot be added to the folder unprotected.
 */
const protectedRoutes: FastifyPluginAsync = async (app) => {
  // While the database circuit breaker is open: 503 before the token is even looked at.
  app.addHook('onRequest', app.requireDatabase)
  app.addHook('onRequest', app.authenticateHook)
  // Every answer here is about a signed-in user (profile, sessions, IPs): no cache keeps it.
  app.addHook('onSend', (_request, reply, payload, done) => {
    reply.header('cache-control', 'no-store')
    done(null, payload)
  })
  await app.register(usersRoutes, { prefix: '/users' })
  await app.register(sessionRoutes, { prefix: '/auth' })
  await app.register(adminRoutes, { prefix: '/admin' })
}

export default protectedRoutes
