import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyRequest } from 'fastify'
import { INTROSPECTION_ROLES, Introspector } from '../../../src/auth/introspection.js'
import { AppError, OAuthError } from '../../../src/errors.js'
import { invalidClient } from '../../../src/auth/clients/client-authentication.js'
import { clientContext } from '../../client-context.js'
import { presentedClient, withoutEmpties } from './client-credentials.js'
import { gateErrors } from './bearer-gate.js'
import { setUpOAuthEndpoint } from './oauth-endpoint.js'
import { clientOrBearerSecurity } from '../../../src/schemas/common.js'
import { IntrospectionBody, IntrospectionResponse } from '../../../src/schemas/introspection.js'
import { rateLimited } from '../../../src/rate-limit/rules.js'
import { RATE_LIMIT } from '../../../src/schemas/headers.js'
import { bearerOAuthResponses as bearerOAuthFamily, TOKEN_REQUIRED } from '../../../src/schemas/responses.js'

/** Every answer of a rate-limited route may carry the RateLimit-* headers. */
const bearerOAuthResponses = bearerOAuthFamily.with(RATE_LIMIT)

const gateError = gateErrors('a bearer token of a service or admin account')

const introspectRoute: FastifyPluginAsyncTypebox = async (app) => {
  await setUpOAuthEndpoint(app, gateError)
  const introspector = new Introspector(app.db, app.keyStore, app.config.jwt)

  app.post('/introspect', {
    // After the body is read: a confidential client may authenticate in it (client_secret_post).
    preHandler: async (request: FastifyRequest, reply) => {
      if (/^bearer\s/i.test(request.headers.authorization ?? '')) {
        await app.authenticate(request, reply)
        if (!request.currentUser.roles.some((role) => INTROSPECTION_ROLES.includes(role))) {
          throw new AppError('forbidden', 'introspection needs an account with the role service or admin')
        }
        return
      }
      const presented = presentedClient(request, withoutEmpties((request.body ?? {}) as Record<string, string | undefined>))
      if (presented.id === undefined && presented.secret === undefined) await app.authenticate(request, reply)
      const client = await app.clientAuthenticator.authenticate(presented, clientContext(request))
      if (client.type !== 'confidential') throw invalidClient('introspection needs a confidential client\'s credentials or a bearer token of a service or admin account')
    },
    schema: {
      tags: ['auth'],
      operationId: 'introspectToken',
      summary: 'Token introspection (RFC 7662) for resource servers',
      description: 'Form-encoded (JSON too) `token` and optional `token_type_hint`. Answers `{"active":false}` for an expired, ' +
        'revoked, invalid or unknown token. Needs a confidential client\'s credentials (client_secret_basic or client_secret_post) ' +
        'or the bearer token of an account with the role `service` or `admin`.',
      consumes: ['application/x-www-form-urlencoded', 'application/json'],
      security: clientOrBearerSecurity,
      body: IntrospectionBody,
      response: {
        200: bearerOAuthResponses.json(IntrospectionResponse, 'What the token is, or only `{"active":false}`'),
        ...bearerOAuthResponses.errors(TOKEN_REQUIRED, 401, 403, 413, 415, 429, 500, 503)
      }
    },
    config: rateLimited('introspect')
  }, async (request) => {
    const token = request.body.token
    if (token === undefined || token === '') throw new OAuthError('invalid_request', 'token is required')
    return introspector.introspect(token)
  })
}

export default introspectRoute
