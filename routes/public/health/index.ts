import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Liveness, notReadyResponse, ReadinessReport } from '../../../src/schemas/health.js'
import { NO_STORE } from '../../../src/schemas/headers.js'
import { INVALID_QUERY, publicResponses } from '../../../src/schemas/responses.js'

const healthRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get('/health', {
    schema: {
      tags: ['health'],
      operationId: 'getHealth',
      summary: 'Liveness: the process is up (does not touch the database)',
      security: [],
      response: { 200: publicResponses.json(Liveness, 'The process is up'), ...publicResponses.errors(INVALID_QUERY, 500) }
    }
  }, async () => ({ status: 'ok' as const }))

  app.get('/ready', {
    schema: {
      tags: ['health'],
      operationId: 'getReadiness',
      summary: 'Readiness: database reachable and migrations applied',
      security: [],
      response: {
        200: publicResponses.json(ReadinessReport, 'Ready: the database answers and every migration is applied', NO_STORE),
        503: notReadyResponse,
        ...publicResponses.errors(INVALID_QUERY, 500)
      }
    }
  }, async (_request, reply) => {
    const { ready, ...details } = await app.readiness.check()
    reply.header('cache-control', 'no-store')
    if (details.checks.breaker !== undefined) reply.header('retry-after', String(app.dbBreaker.retryAfterSeconds()))
    return reply.code(ready ? 200 : 503).send({ status: ready ? 'ready' : 'unavailable', ...details })
  })
}

export default healthRoutes
