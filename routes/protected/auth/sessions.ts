import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { bearerSecurity, problemResponses, Uuid } from '../../../src/schemas/common.js'
import { LogoutBody, SessionRead, toSessionRead } from '../../../src/schemas/sessions.js'

const NoContent = Type.Null({ description: 'No content' })

const sessionRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.post('/logout', {
    schema: {
      tags: ['sessions'],
      operationId: 'logout',
      summary: 'End this session (or, with {"all": true}, every session of the account)',
      security: bearerSecurity,
      body: LogoutBody,
      response: { 204: NoContent, ...problemResponses(400, 401, 413, 415) }
    },
    // The body is optional: no body, or an empty one sent as application/json, means {}.
    config: { emptyJsonBody: true },
    preValidation: async (request) => { request.body ??= {} }
  }, async (request, reply) => {
    const { currentUser, currentSessionId } = request
    if (request.body.all === true) await app.sessionsService.endAll(currentUser.id, 'logout_all')
    else if (currentSessionId !== null) await app.sessionsService.end(currentSessionId, 'logout')
    return reply.code(204).send(null)
  })

  app.get('/sessions', {
    schema: {
      tags: ['sessions'],
      operationId: 'listSessions',
      summary: 'The account\'s live sessions (devices signed in), the current one marked',
      security: bearerSecurity,
      response: { 200: Type.Array(Type.Ref(SessionRead)), ...problemResponses(401) }
    }
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
      response: { 204: NoContent, ...problemResponses(400, 401, 404) }
    }
  }, async (request, reply) => {
    await app.sessionsService.endOwn(request.currentUser.id, request.params.id)
    return reply.code(204).send(null)
  })
}

export default sessionRoutes
