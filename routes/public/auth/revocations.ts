import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { clientTokenVerifier } from '../../../src/auth/access-tokens.js'
import { findClient } from '../../../src/auth/clients/clients.repository.js'
import { DEFAULT_PAGE_SIZE } from '../../../src/schemas/admin.js'
import { clientOrBearerSecurity } from '../../../src/schemas/common.js'
import { RATE_LIMIT } from '../../../src/schemas/headers.js'
import { RevocationPage, RevocationQuery } from '../../../src/schemas/revocations.js'
import { bearerOAuthResponses as bearerOAuthFamily } from '../../../src/schemas/responses.js'
import { rateLimited } from '../../../src/rate-limit/rules.js'
import { clientContext } from '../../client-context.js'
import { forbidden, gateErrors } from './bearer-gate.js'
import { presentedClient } from './client-credentials.js'
import { setUpOAuthEndpoint } from './oauth-endpoint.js'
import { Type } from '@sinclair/typebox'

/** The scope a confidential client needs to read the feed. */
export const REVOCATIONS_SCOPE = 'revocations:read'
const NEEDS = `an admin's bearer token, or a confidential client with the scope ${REVOCATIONS_SCOPE} (its credentials or its client_credentials token)`

const responses = bearerOAuthFamily.with(RATE_LIMIT)

/**
 * The revocation feed for resource servers (DESIGN "Revocation feed"): ended sessions and
 * disabled or deleted accounts, so that a service verifying tokens offline can refuse them
 * before they expire. Readers: admins, and confidential clients with revocations:read.
 */
const revocationRoutes: FastifyPluginAsyncTypebox = async (app) => {
  await setUpOAuthEndpoint(app, gateErrors(NEEDS))
  const verifyClientToken = clientTokenVerifier(app.keyStore, app.config.jwt)

  /** Who may read: a confidential client with the scope (Basic, or its own bearer token), or an admin. */
  async function feedReader (request: FastifyRequest, reply: FastifyReply): Promise<void> {
    const authorization = request.headers.authorization ?? ''
    if (/^basic\s/i.test(authorization)) {
      const client = await app.clientAuthenticator.authenticate(presentedClient(request, {}), clientContext(request))
      if (client.type !== 'confidential' || !client.scopes.includes(REVOCATIONS_SCOPE)) throw forbidden(`the feed needs ${NEEDS}`)
      return
    }
    const token = /^bearer\s+(\S+)\s*$/i.exec(authorization)?.[1]
    const claims = token === undefined ? undefined : await verifyClientToken(token)
    if (claims !== undefined) {
      const client = await findClient(app.db, claims.client_id)
      if (client === undefined || client.disabled) throw forbidden('this client is disabled or gone')
      if (!(claims.scope ?? '').split(' ').includes(REVOCATIONS_SCOPE)) throw forbidden(`this token lacks the scope ${REVOCATIONS_SCOPE}`)
      return
    }
    await app.authenticate(request, reply)
    if (!request.currentUser.roles.includes('admin')) throw forbidden(`the feed needs ${NEEDS}`)
  }

  app.get('/revocations', {
    preHandler: feedReader,
    schema: {
      tags: ['auth'],
      operationId: 'listRevocations',
      summary: 'The revocation feed: ended sessions and disabled or deleted accounts, oldest first',
      description: 'For resource servers that verify tokens offline: refuse a token whose `sid` is listed, or whose `sub` ' +
        'is listed with `sid` null. Entries are kept as long as an access token can live (JWT_EXPIRE_MINUTES). Poll with ' +
        '`since` = the last `next_cursor`. Needs ' + NEEDS + '.',
      security: clientOrBearerSecurity,
      querystring: RevocationQuery,
      response: {
        200: responses.json(Type.Ref(RevocationPage), 'Entries after `since`, and where to resume'),
        ...responses.errors(400, 401, 403, 429, 500, 503)
      }
    },
    config: rateLimited('introspect')
  }, async (request) => app.revocationFeed.page(request.query.since, Number(request.query.limit ?? DEFAULT_PAGE_SIZE)))
}

export default revocationRoutes
