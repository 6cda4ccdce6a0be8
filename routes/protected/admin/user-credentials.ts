import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { AdminPasswordBody } from '../../../src/schemas/admin.js'
import { ADMIN_ONLY, INVALID_ID, protectedResponses } from '../../../src/schemas/responses.js'
import { SessionRead, toSessionRead } from '../../../src/schemas/sessions.js'
import { actingUser } from '../../client-context.js'
import { adminOperation, UserId } from './operation.js'

/** An account's password and sessions, as an admin manages them. */
const userCredentialRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const service = app.adminUsersService

  app.put('/:id/password', {
    schema: {
      ...adminOperation('adminSetPassword', 'Set an account\'s password; every session of it ends'),
      params: UserId,
      body: AdminPasswordBody,
      response: {
        204: protectedResponses.empty('Set; the account\'s sessions have ended'),
        ...protectedResponses.errors(INVALID_ID, 401, ADMIN_ONLY, 404, 413, 415, 500, 503)
      }
    }
  }, async (request, reply) => {
    await service.setPassword(actingUser(request), request.params.id, request.body.new_password)
    return reply.code(204).send(null)
  })

  app.get('/:id/sessions', {
    schema: {
      ...adminOperation('adminListSessions', 'An account\'s live sessions, the most recently used first'),
      params: UserId,
      response: {
        200: protectedResponses.json(Type.Array(Type.Ref(SessionRead)), 'The live sessions'),
        ...protectedResponses.errors(INVALID_ID, 401, ADMIN_ONLY, 404, 500, 503)
      }
    }
  }, async (request) => {
    const sessions = await service.sessions(request.params.id)
    return sessions.map((session) => toSessionRead(session, request.currentSessionId))
  })

  app.delete('/:id/sessions', {
    schema: {
      ...adminOperation('adminEndSessions', 'End every session of an account'),
      params: UserId,
      response: {
        204: protectedResponses.empty('Every session has ended'),
        ...protectedResponses.errors(INVALID_ID, 401, ADMIN_ONLY, 404, 500, 503)
      }
    }
  }, async (request, reply) => {
    await service.endSessions(actingUser(request), request.params.id)
    return reply.code(204).send(null)
  })
}

export default userCredentialRoutes
