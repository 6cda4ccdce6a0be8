import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { clientTokenVerifier } from '../../../src/auth/access-tokens.js'
import { findClient } from '../../../src/auth/clients/clients.repository.js'
import { DEFAULT_PAGE_SIZE } from '../../../src/schemas/admin.js'
import { clientOrBearerSecurity } from '../../../src/schemas/common.js'
import { RATE_LIMIT } from '../../../src/schemas/headers.js'
import { decodeFeedCursor } from '../../../src/auth/sessions/revocation-feed.js'
import { LastEventIdHeader, RevocationPage, RevocationQuery, RevocationStreamQuery } from '../../../src/schemas/revocations.js'
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

  /**
   * Who may read: a confidential client with the scope (Basic, or its own bearer token), or an
   * admin. Resolves with when the credential expires (epoch seconds; undefined: client
   * credentials, which do not), which a stream does not outlive.
   */
  async function feedReader (request: FastifyRequest, reply: FastifyReply): Promise<number | undefined> {
    const authorization = request.headers.authorization ?? ''
    if (/^basic\s/i.test(authorization)) {
      const client = await app.clientAuthenticator.authenticate(presentedClient(request, {}), clientContext(request))
      if (client.type !== 'confidential' || !client.scopes.includes(REVOCATIONS_SCOPE)) throw forbidden(`the feed needs ${NEEDS}`)
      return undefined
    }
    const token = /^bearer\s+(\S+)\s*$/i.exec(authorization)?.[1]
    const claims = token === undefined ? undefined : await verifyClientToken(token)
    if (claims !== undefined) {
      const client = await findClient(app.db, claims.client_id)
      if (client === undefined || client.disabled) throw forbidden('this client is disabled or gone')
      if (!(claims.scope ?? '').split(' ').includes(REVOCATIONS_SCOPE)) throw forbidden(`this token lacks the scope ${REVOCATIONS_SCOPE}`)
      return claims.exp
    }
    await app.authenticate(request, reply)
    if (!request.currentUser.roles.includes('admin')) throw forbidden(`the feed needs ${NEEDS}`)
    return verifiedExpiry(token ?? '')
  }

  app.get('/revocations', {
    preHandler: async (request, reply) => { await feedReader(request, reply) },
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

  const maxLifetimeMs = app.config.jwt.expireMinutes * 60_000
  app.get('/revocations/stream', {
    schema: {
      tags: ['auth'],
      operationId: 'streamRevocations',
      summary: 'The revocation feed as Server-Sent Events: every entry after Last-Event-ID, then each new one as it happens',
      description: 'The same entries as `GET /auth/revocations`, pushed: each is an event with `id: <cursor>` and ' +
        '`data: {"sid","sub","revoked_at"}`; a `: heartbeat` comment comes every REVOCATION_STREAM_HEARTBEAT_SECONDS while ' +
        'nothing happens. Without `Last-Event-ID` (or `since`) it starts from the oldest entry kept. The stream ends when the ' +
        'credential expires (at the latest after JWT_EXPIRE_MINUTES) or the server closes; reconnect with `Last-Event-ID`, ' +
        'as EventSource does after `retry` milliseconds. Needs ' + NEEDS + '.',
      security: clientOrBearerSecurity,
      headers: LastEventIdHeader,
      querystring: RevocationStreamQuery,
      response: {
        200: responses.eventStream('Entries as events, then new ones as they are committed', STREAM_EXAMPLE),
        ...responses.errors(400, 401, 403, 429, 500, 503)
      }
    },
    config: rateLimited('introspect')
  }, async (request, reply) => {
    const expiresAt = await feedReader(request, reply)
    const resumeFrom = request.headers['last-event-id']
    const cursor = resumeFrom === undefined ? decodeFeedCursor(request.query.since) : decodeFeedCursor(resumeFrom, LAST_EVENT_ID)
    const lifetimeMs = Math.min(maxLifetimeMs, expiresAt === undefined ? Infinity : expiresAt * 1000 - Date.now())
    const stream = app.revocationStreams.open(cursor, lifetimeMs, request.log)
    return reply.type('text/event-stream; charset=utf-8').header('x-accel-buffering', 'no').send(stream)
  })
}

const LAST_EVENT_ID = { name: 'Last-Event-ID', path: '/headers/last-event-id' }

const STREAM_EXAMPLE = 'retry: 1000\n\nid: 41\ndata: {"sid":"0193a8f0-6b7c-7a3e-9a51-0f1d2e3c4b5a","sub":"0193a8f0-1111-7a3e-9a51-0f1d2e3c4b5a",' +
  '"revoked_at":"2026-12-03T10:00:00.000Z"}\n\n: heartbeat\n\n'

/** The `exp` of a token `authenticate` has verified. */
function verifiedExpiry (token: string): number | undefined {
  const payload = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString()) as { exp?: unknown }
  return typeof payload.exp === 'number' ? payload.exp : undefined
}

export default revocationRoutes
