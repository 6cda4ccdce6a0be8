import type { FastifyPluginAsync } from 'fastify'
import auditEventRoutes from './audit-events.js'
import clientRoutes from './clients.js'
import userCredentialRoutes from './user-credentials.js'
import userRoutes from './users.js'

/**
 * Everything registered here needs the role admin, on top of the authentication of
 * routes/protected: the hook sits on this plugin, so no admin route can be added without it.
 */
const adminRoutes: FastifyPluginAsync = async (app) => {
  app.addHook('onRequest', app.requireRole('admin'))
  await app.register(userRoutes, { prefix: '/users' })
  await app.register(userCredentialRoutes, { prefix: '/users' })
  await app.register(clientRoutes, { prefix: '/clients' })
  await app.register(auditEventRoutes, { prefix: '/audit-events' })
}

export default adminRoutes
