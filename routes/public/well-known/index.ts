import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { authorizationServerMetadata } from '../../../src/auth/metadata.js'
import { paths } from '../../../src/paths.js'
import { AuthorizationServerMetadata, JwkSet } from '../../../src/schemas/discovery.js'
import { cacheableFor } from '../../../src/schemas/headers.js'
import { INVALID_QUERY, publicResponses } from '../../../src/schemas/responses.js'

/** Verifiers cache the key set this long; a rotated-in key is also fetched on an unknown kid. */
export const JWKS_MAX_AGE_SECONDS = 300
const METADATA_MAX_AGE_SECONDS = 3600

/** Public keys (RFC 7517) and authorization server metadata (RFC 8414) for services that verify tokens offline. */
const wellKnownRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get(paths.jwks, {
    schema: {
      tags: ['discovery'],
      operationId: 'getJwks',
      summary: 'The public keys that verify access tokens (JWKS)',
      description: 'Every key that currently verifies tokens: the signing key and retired keys whose tokens may still be live. ' +
        'Empty with JWT_ALGORITHM=HS256 (a shared secret is never published).',
      security: [],
      response: {
        200: publicResponses.json(JwkSet, 'The key set', cacheableFor(JWKS_MAX_AGE_SECONDS)),
        ...publicResponses.errors(INVALID_QUERY, 500, 503)
      }
    }
  }, async (_request, reply) => {
    const keys = await app.keyStore.publishedKeys()
    reply.header('cache-control', `public, max-age=${JWKS_MAX_AGE_SECONDS}`)
    return { keys }
  })

  app.get(paths.authorizationServerMetadata, {
    schema: {
      tags: ['discovery'],
      operationId: 'getAuthorizationServerMetadata',
      summary: 'OAuth 2.0 authorization server metadata (RFC 8414)',
      security: [],
      response: {
        200: publicResponses.json(AuthorizationServerMetadata, 'The metadata', cacheableFor(METADATA_MAX_AGE_SECONDS)),
        ...publicResponses.errors(INVALID_QUERY, 500, 503)
      }
    }
  }, async (_request, reply) => {
    reply.header('cache-control', `public, max-age=${METADATA_MAX_AGE_SECONDS}`)
    return authorizationServerMetadata({
      issuer: app.config.jwt.issuer,
      publicUrl: app.config.publicUrl,
      has: {
        revocation: app.hasRoute({ method: 'POST', url: paths.revoke }),
        introspection: app.hasRoute({ method: 'POST', url: paths.introspect })
      }
    })
  })
}

export default wellKnownRoutes
