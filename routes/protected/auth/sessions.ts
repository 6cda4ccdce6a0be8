import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { bearerSecurity, Uuid } from '../../../src/schemas/common.js'
import { rateLimited } from '../../../src/rate-limit/rules.js'
import { RATE_LIMIT } from '../../../src/schemas/headers.js'
import { INVALID_ID, INVALID_QUERY, protectedResponses as protectedFamily, SESSION_NOT_FOUND } from '../../../src/schemas/responses.js'

/** Every answer of a rate-limited route may carry the RateLimit-* headers. */
const protectedResponses = protectedFamily.with(RATE_LIMIT)
import { LogoutBody, SessionRead, toSessionRead } from '../../../src/schemas/sessions.js'
import { clientContext } from '../../client-context.js'

const sessionRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.post('/logout', {
    schema: {
      tags: ['sessions'],
      operationId: 'logout',
      summary: 'End this session (or, with {"all": true}, every session of the account)',
      security: bearerSecurity,
      body: LogoutBody,
      response: {
        204: protectedResponses.empty('Signed out'),
        ...protectedResponses.errors(400, 401, 413, 415, 429, 500, 503)
      }
    },
    // The body is optional: no body, or an empty one sent as application/json, means {}.
    config: { emptyJsonBody: true, ...rateLimited('sessions') },
    preValidation: async (request) => { request.body ??= {} }
  }, async (request, reply) => {
    await app.sessionsService.logout(request.currentUser.id, request.currentSessionId, request.body.all === true, clientContext(request))
    return reply.code(204).send(null)
  })

  app.get('/sessions', {
    schema: {
      tags: ['sessions'],
      operationId: 'listSessions',
      summary: 'The account\'s live sessions (devices signed in), the current one marked',
      security: bearerSecurity,
      response: {
        200: protectedResponses.json(Type.Array(Type.Ref(SessionRead)), 'The live sessions, the most recently used first'),
        ...protectedResponses.errors(INVALID_QUERY, 401, 429, 500, 503)
      }
    },
    config: rateLimited('sessions')
  }, async (request) => {
    const sessions = await app.sessionsService.list(request.currentUser.id)
    return sessions.map((session) => toSessionRead(session, request.currentSessionId))
  })

  app.delete('/sessions/:id', {
    schema: {
      tags: ['sessions'],
      operationId: 'endSession',
      summary: 'End one of the account\'s sessions (sign a device out)',
      security: bearerSecurity,
      params: Type.Object({ id: Uuid }),
      response: {
        204: protectedResponses.empty('The session has ended'),
        ...protectedResponses.errors(INVALID_ID, 401, SESSION_NOT_FOUND, 413, 415, 429, 500, 503)
      }
    },
    config: rateLimited('sessions')
  }, async (request, reply) => {
    await app.sessionsService.endOwn(request.currentUser.id, request.params.id, clientContext(request))
    return reply.code(204).send(null)
  })
}

export default sessionRoutes
