import { Type, type FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Problem } from '../../../src/schemas/common.js'

const ReadinessBody = Type.Object({
  status: Type.Union([Type.Literal('ready'), Type.Literal('unavailable')]),
  checks: Type.Object({
    database: Type.String(),
    migrations: Type.String(),
    breaker: Type.Optional(Type.String())
  }),
  pending_migrations: Type.Optional(Type.Array(Type.String())),
  reason: Type.Optional(Type.String())
})

const healthRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get('/health', {
    schema: {
      tags: ['health'],
      operationId: 'getHealth',
      summary: 'Liveness: the process is up (does not touch the database)',
      response: { 200: Type.Object({ status: Type.Literal('ok') }) }
    }
  }, async () => ({ status: 'ok' as const }))

  app.get('/ready', {
    schema: {
      tags: ['health'],
      operationId: 'getReadiness',
      summary: 'Readiness: database reachable and migrations applied',
      response: {
        200: ReadinessBody,
        // Fastify serializes by media type: the report, or the problem of a request shed under load.
        503: Type.Unsafe({
          description: 'Not ready, or the service sheds load',
          content: { 'application/json': { schema: ReadinessBody }, 'application/problem+json': { schema: Type.Ref(Problem) } }
        })
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
