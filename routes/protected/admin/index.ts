import type { FastifyPluginAsync } from 'fastify'
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
}

export default adminRoutes
