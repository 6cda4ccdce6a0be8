import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { paths } from '../../../src/paths.js'
import { AdminUserCreateBody, AdminUserQuery, AdminUserUpdateBody, DEFAULT_PAGE_SIZE, UserPage } from '../../../src/schemas/admin.js'
import { LOCATION } from '../../../src/schemas/headers.js'
import { ACCOUNT_CONFLICT, ADMIN_ONLY, INVALID_ID, protectedResponses } from '../../../src/schemas/responses.js'
import { toUserRead, UserRead } from '../../../src/schemas/users.js'
import { actingUser } from '../../client-context.js'
import { adminOperation, UserId } from './operation.js'

const userRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const service = app.adminUsersService

  app.get('/', {
    schema: {
      ...adminOperation('adminListUsers', 'Accounts, newest first, a page at a time'),
      description: '`q` matches the start of the email or the username (any case). Pass `next_cursor` as `cursor` ' +
        'for the next page; pages do not overlap or skip accounts while others are created.',
      querystring: AdminUserQuery,
      response: {
        200: protectedResponses.json(Type.Ref(UserPage), 'A page of accounts'),
        ...protectedResponses.errors(400, 401, ADMIN_ONLY, 500, 503)
      }
    }
  }, async (request) => {
    const { q, role, active, limit, cursor } = request.query
    const page = await service.list({ q, role, active: active === undefined ? undefined : active === 'true' },
      limit === undefined ? DEFAULT_PAGE_SIZE : Number(limit), cursor)
    return { items: page.items.map(toUserRead), next_cursor: page.nextCursor }
  })

  app.post('/', {
    schema: {
      ...adminOperation('adminCreateUser', 'Create an account'),
      description: 'Without `password` the account cannot sign in with one until an admin sets it. `roles` defaults to ["user"].',
      body: AdminUserCreateBody,
      response: {
        201: protectedResponses.json(Type.Ref(UserRead), 'Created', LOCATION),
        ...protectedResponses.errors(400, 401, ADMIN_ONLY, 409, 413, 415, 500, 503)
      }
    }
  }, async (request, reply) => {
    const user = await service.create(actingUser(request), request.body)
    return reply.code(201).header('location', paths.adminUser(user.id)).send(toUserRead(user))
  })

  app.get('/:id', {
    schema: {
      ...adminOperation('adminGetUser', 'An account'),
      params: UserId,
      response: {
        200: protectedResponses.json(Type.Ref(UserRead), 'The account'),
        ...protectedResponses.errors(INVALID_ID, 401, ADMIN_ONLY, 404, 500, 503)
      }
    }
  }, async (request) => toUserRead(await service.get(request.params.id)))

  app.patch('/:id', {
    schema: {
      ...adminOperation('adminUpdateUser', 'Change an account: profile, roles, enabled or disabled'),
      description: '`is_active: false` disables the account and ends every session of it at once. The last active admin ' +
        'cannot be disabled or lose the role admin (409 last_admin).',
      params: UserId,
      body: AdminUserUpdateBody,
      response: {
        200: protectedResponses.json(Type.Ref(UserRead), 'The changed account'),
        ...protectedResponses.errors(INVALID_ID, 401, ADMIN_ONLY, 404, ACCOUNT_CONFLICT, 413, 415, 500, 503)
      }
    }
  }, async (request) => toUserRead(await service.update(actingUser(request), request.params.id, request.body)))

  app.delete('/:id', {
    schema: {
      ...adminOperation('adminDeleteUser', 'Delete an account and its sessions'),
      params: UserId,
      response: {
        204: protectedResponses.empty('Deleted'),
        ...protectedResponses.errors(INVALID_ID, 401, ADMIN_ONLY, 404, ACCOUNT_CONFLICT, 500, 503)
      }
    }
  }, async (request, reply) => {
    await service.delete(actingUser(request), request.params.id)
    return reply.code(204).send(null)
  })
}

export default userRoutes
