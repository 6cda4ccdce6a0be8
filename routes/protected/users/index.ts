import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type, type TSchema } from '@sinclair/typebox'
import type { FastifyReply } from 'fastify'
import { bearerSecurity, Uuid } from '../../../src/schemas/common.js'
import { INVALID_ID, INVALID_QUERY, NO_PASSWORD, protectedResponses } from '../../../src/schemas/responses.js'
import { AccountDeleteBody, PasswordChangeBody, toUserRead, UserRead, UserUpdateBody } from '../../../src/schemas/users.js'
import type { UserRow } from '../../../src/db/types.js'
import { clientContext } from '../../client-context.js'

/** An operation on the signed-in account that its password confirms: 204, 403 for a wrong password, 409 for an account without one. */
function confirmedByPassword<Body extends TSchema> (operationId: string, summary: string, body: Body, done: string) {
  return {
    tags: ['users'],
    operationId,
    summary,
    security: bearerSecurity,
    body,
    response: {
      204: protectedResponses.empty(done),
      ...protectedResponses.errors(400, 401, 403, NO_PASSWORD, 413, 415, 500, 503)
    }
  }
}

/**
 * GET /users/me's body, serialized once per user row by the route's own serializer. The
 * session view hands every request of a user the same row until the user changes (then a
 * new row), and turning it into JSON (two dates to ISO strings, the schema's serializer) was
 * a twentieth of the request (docs/performance.md). Rows are never changed in place.
 */
const meBodies = new WeakMap<UserRow, string>()

function meBody (user: UserRow, reply: FastifyReply): string {
  let body = meBodies.get(user)
  if (body === undefined) {
    const serialize = reply.getSerializationFunction('200', 'application/json')
    if (serialize === undefined) throw new Error('GET /users/me has no 200 application/json schema')
    body = serialize(toUserRead(user))
    meBodies.set(user, body)
  }
  return body
}

const usersRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get('/me', {
    schema: {
      tags: ['users'],
      operationId: 'getMe',
      summary: 'The signed-in user',
      security: bearerSecurity,
      response: {
        200: protectedResponses.json(Type.Ref(UserRead), 'The signed-in user'),
        ...protectedResponses.errors(INVALID_QUERY, 401, 500, 503)
      }
    }
  }, (request, reply) => {
    reply.type('application/json; charset=utf-8').send(meBody(request.currentUser, reply))
  })

  app.get('/:id', {
    schema: {
      tags: ['users'],
      operationId: 'getUser',
      summary: 'A user by id: your own account, or any account for an admin',
      security: bearerSecurity,
      params: Type.Object({ id: Uuid }),
      response: {
        200: protectedResponses.json(Type.Ref(UserRead), 'The user'),
        ...protectedResponses.errors(INVALID_ID, 401, 404, 500, 503)
      }
    }
  }, async (request) => toUserRead(await app.usersService.getVisibleUser(request.currentUser, request.params.id)))

  const updateSchema = (method: 'PATCH' | 'PUT') => ({
    tags: ['users'],
    operationId: method === 'PATCH' ? 'updateMe' : 'replaceMe',
    summary: method === 'PATCH'
      ? 'Change the signed-in user\'s profile (only the given fields)'
      : 'Change the signed-in user\'s profile (same as PATCH: merges the given fields)',
    security: bearerSecurity,
    body: UserUpdateBody,
    response: {
      200: protectedResponses.json(Type.Ref(UserRead), 'The changed profile'),
      ...protectedResponses.errors(400, 401, 409, 413, 415, 500, 503)
    }
  })
  for (const method of ['PATCH', 'PUT'] as const) {
    app.route({
      method,
      url: '/me',
      schema: updateSchema(method),
      handler: async (request) => toUserRead(await app.usersService.updateProfile(request.currentUser, request.body))
    })
  }

  app.put('/me/password', {
    schema: confirmedByPassword('changeMyPassword', 'Change the password (needs the current one)', PasswordChangeBody,
      'Changed; every other session of the account has ended')
  }, async (request, reply) => {
    await app.authService.changePassword(request.currentUser, request.body.current_password, request.body.new_password, clientContext(request), request.currentSessionId ?? undefined)
    return reply.code(204).send(null)
  })

  app.delete('/me', {
    schema: confirmedByPassword('deleteMe', 'Delete the account and its data (needs the password)', AccountDeleteBody, 'Deleted, with its sessions')
  }, async (request, reply) => {
    await app.authService.deleteAccount(request.currentUser, request.body.password, clientContext(request))
    return reply.code(204).send(null)
  })
}

export default usersRoutes
