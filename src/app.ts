import type { FastifyPluginAsync } from 'fastify'
import authPlugin from '../plugins/auth.js'
import breakerPlugin from '../plugins/breaker.js'
import configPlugin from '../plugins/config.js'
import dbPlugin from '../plugins/db.js'
import errorsPlugin from '../plugins/errors.js'
import gracefulClosePlugin from '../plugins/graceful-close.js'
import jsonBodyPlugin from '../plugins/json-body.js'
import lingeringClosePlugin from '../plugins/lingering-close.js'
import loadSheddingPlugin from '../plugins/load-shedding.js'
import metricsPlugin from '../plugins/metrics.js'
import oidcPlugin from '../plugins/oidc.js'
import requestIdPlugin from '../plugins/request-id.js'
import securityPlugin from '../plugins/security.js'
import servicesPlugin from '../plugins/services.js'
import sessionViewPlugin from '../plugins/session-view.js'
import sessionsPrunePlugin from '../plugins/sessions-prune.js'
import swaggerPlugin from '../plugins/swagger.js'
import rateLimitPlugin from '../plugins/rate-limit.js'
import redisPlugin from '../plugins/redis.js'
import protectedRoutes from '../routes/protected/index.js'
import authRoutes from '../routes/public/auth/index.js'
import healthRoutes from '../routes/public/health/index.js'
import wellKnownRoutes from '../routes/public/well-known/index.js'
import type { Config } from './config.js'
import type { DatabaseHandle } from './db/connect.js'
import { API_PREFIX, paths } from './paths.js'

export interface AppOptions {
  config: Config
  /** An open database to use instead of opening one from the configuration (tests). */
  database?: DatabaseHandle
}

/** The whole service as a plugin: plugins first, then routes. */
const app: FastifyPluginAsync<AppOptions> = async (fastify, options) => {
  await fastify.register(configPlugin, { config: options.config })
  // Each plugin names the ones it depends on; this is an order that satisfies them all.
  for (const plugin of [requestIdPlugin, errorsPlugin, gracefulClosePlugin, lingeringClosePlugin, securityPlugin, loadSheddingPlugin, breakerPlugin]) {
    await fastify.register(plugin)
  }
  await fastify.register(dbPlugin, { database: options.database })
  for (const plugin of [metricsPlugin, redisPlugin, rateLimitPlugin, authPlugin, servicesPlugin, sessionViewPlugin, oidcPlugin, sessionsPrunePlugin, swaggerPlugin]) await fastify.register(plugin)

  // JSON only, except where a route plugin adds a parser (the OAuth token endpoint).
  fastify.removeContentTypeParser('text/plain')
  await fastify.register(jsonBodyPlugin)

  await fastify.register(healthRoutes)
  await fastify.register(wellKnownRoutes)
  await fastify.register(authRoutes, { prefix: paths.auth })
  await fastify.register(protectedRoutes, { prefix: API_PREFIX })
}

export default app
