import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { paths } from '../../../src/paths.js'
import { DEFAULT_PAGE_SIZE } from '../../../src/schemas/admin.js'
import { ClientCreateBody, ClientPage, ClientQuery, ClientRead, ClientUpdateBody, ClientWithSecretRead, toClientRead } from '../../../src/schemas/clients.js'
import { LOCATION } from '../../../src/schemas/headers.js'
import { ADMIN_ONLY, INVALID_ID, protectedResponses } from '../../../src/schemas/responses.js'
import { actingUser } from '../../client-context.js'
import { adminOperation, ClientId } from './operation.js'

/** The OAuth client registry. A confidential client's secret is in the answer to its creation and to a rotation, never again. */
const clientRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const service = app.clientsService

  app.get('/', {
    schema: {
      ...adminOperation('adminListClients', 'OAuth clients, newest first, a page at a time'),
      querystring: ClientQuery,
      response: {
        200: protectedResponses.json(Type.Ref(ClientPage), 'A page of clients'),
        ...protectedResponses.errors(400, 401, ADMIN_ONLY, 500, 503)
      }
    }
  }, async (request) => {
    const { limit, cursor } = request.query
    const page = await service.list(limit === undefined ? DEFAULT_PAGE_SIZE : Number(limit), cursor)
    return { items: page.items.map(toClientRead), next_cursor: page.nextCursor }
  })

  app.post('/', {
    schema: {
      ...adminOperation('adminCreateClient', 'Register an OAuth client; a confidential one gets its secret here, once'),
      body: ClientCreateBody,
      response: {
        201: protectedResponses.json(Type.Ref(ClientWithSecretRead), 'Registered', LOCATION),
        ...protectedResponses.errors(400, 401, ADMIN_ONLY, 413, 415, 500, 503)
      }
    }
  }, async (request, reply) => {
    const { client, secret } = await service.create(actingUser(request), request.body)
    return reply.code(201).header('location', paths.adminClient(client.client_id))
      .send({ ...toClientRead(client), ...(secret === null ? {} : { client_secret: secret }) })
  })

  app.get('/:client_id', {
    schema: {
      ...adminOperation('adminGetClient', 'An OAuth client (never its secret)'),
      params: ClientId,
      response: {
        200: protectedResponses.json(Type.Ref(ClientRead), 'The client'),
        ...protectedResponses.errors(INVALID_ID, 401, ADMIN_ONLY, 404, 500, 503)
      }
    }
  }, async (request) => toClientRead(await service.get(request.params.client_id)))

  app.patch('/:client_id', {
    schema: {
      ...adminOperation('adminUpdateClient', 'Change an OAuth client: name, grants, audience, scopes, disabled'),
      params: ClientId,
      body: ClientUpdateBody,
      response: {
        200: protectedResponses.json(Type.Ref(ClientRead), 'The changed client'),
        ...protectedResponses.errors(INVALID_ID, 401, ADMIN_ONLY, 404, 413, 415, 500, 503)
      }
    }
  }, async (request) => toClientRead(await service.update(actingUser(request), request.params.client_id, request.body)))

  app.post('/:client_id/secret', {
    schema: {
      ...adminOperation('adminRotateClientSecret', 'A new secret for a confidential client; the old one stops working at once'),
      params: ClientId,
      response: {
        200: protectedResponses.json(Type.Ref(ClientWithSecretRead), 'The client and its new secret, shown once'),
        ...protectedResponses.errors(INVALID_ID, 401, ADMIN_ONLY, 404, 500, 503)
      }
    }
  }, async (request) => {
    const { client, secret } = await service.rotateSecret(actingUser(request), request.params.client_id)
    return { ...toClientRead(client), ...(secret === null ? {} : { client_secret: secret }) }
  })

  app.delete('/:client_id', {
    schema: {
      ...adminOperation('adminDeleteClient', 'Delete an OAuth client'),
      params: ClientId,
      response: {
        204: protectedResponses.empty('Deleted'),
        ...protectedResponses.errors(INVALID_ID, 401, ADMIN_ONLY, 404, 500, 503)
      }
    }
  }, async (request, reply) => {
    await service.delete(actingUser(request), request.params.client_id)
    return reply.code(204).send(null)
  })
}

export default clientRoutes
