import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { AuthResponse, LoginBody, RefreshBody, RegisterBody, TokenResponse } from '../../../src/schemas/auth.js'
import { paths } from '../../../src/paths.js'
import { rateLimited } from '../../../src/rate-limit/rules.js'
import { LOCATION, NO_STORE, RATE_LIMIT } from '../../../src/schemas/headers.js'
import { INVALID_REFRESH, publicResponses } from '../../../src/schemas/responses.js'
import { toUserRead } from '../../../src/schemas/users.js'
import { clientContext } from '../../client-context.js'
import introspectRoute from './introspect.js'
import oidcRoutes from './oidc.js'
import revocationRoutes from './revocations.js'
import tokenRoute from './token.js'

/** Login and refresh set Cache-Control before they are done: an error of theirs may carry it too. */
const signInResponses = publicResponses.with({ ...NO_STORE, ...RATE_LIMIT })
/** Every answer of a rate-limited route may carry the RateLimit-* headers. */
const limitedResponses = publicResponses.with(RATE_LIMIT)

const authRoutes: FastifyPluginAsyncTypebox = async (app) => {
  // Every route here needs the database: with the breaker open, 503 before any hashing.
  app.addHook('onRequest', app.requireDatabase)
  await app.register(tokenRoute)
  await app.register(introspectRoute)
  await app.register(oidcRoutes)
  await app.register(revocationRoutes)

  app.post('/register', {
    schema: {
      tags: ['auth'],
      operationId: 'register',
      summary: 'Create an account and sign in',
      description: 'The email is trimmed and lower-cased; the username keeps its case but is unique regardless of case.',
      security: [],
      body: RegisterBody,
      response: {
        201: limitedResponses.json(Type.Ref(AuthResponse), 'Registered and signed in: the account and its first tokens', { ...LOCATION, ...NO_STORE }),
        ...limitedResponses.errors(400, 409, 413, 415, 429, 500, 503)
      }
    },
    config: rateLimited('register')
  }, async (request, reply) => {
    const { user, tokens } = await app.authService.register(request.body, clientContext(request))
    return reply.code(201)
      .header('location', paths.user(user.id))
      .header('cache-control', 'no-store')
      .send({ user: toUserRead(user), ...tokens })
  })

  app.post('/login', {
    schema: {
      tags: ['auth'],
      operationId: 'login',
      summary: 'Sign in with email or username and password (JSON)',
      security: [],
      body: LoginBody,
      response: {
        200: signInResponses.json(Type.Ref(AuthResponse), 'Signed in: the account and its tokens'),
        ...signInResponses.errors(400, 401, 403, 413, 415, 429, 500, 503)
      }
    },
    config: rateLimited('signin')
  }, async (request, reply) => {
    const context = clientContext(request)
    const user = await app.authService.verifyCredentials(request.body.login, request.body.password, context)
    return reply.header('cache-control', 'no-store')
      .send({ user: toUserRead(user), ...await app.authService.signIn(user, context) })
  })

  app.post('/refresh', {
    schema: {
      tags: ['auth'],
      operationId: 'refresh',
      summary: 'Trade a refresh token for a new access token and a new refresh token (JSON)',
      description: 'Every refresh token works once: the answer carries its successor. A token used again ' +
        `within the grace window (REFRESH_REUSE_GRACE_SECONDS) is refused; after it, the whole session ends.`,
      security: [],
      body: RefreshBody,
      response: {
        200: signInResponses.json(Type.Ref(TokenResponse), 'A new access token and the successor of the refresh token'),
        ...signInResponses.errors(INVALID_REFRESH, 413, 415, 429, 500, 503)
      }
    },
    config: rateLimited('refresh')
  }, async (request, reply) => {
    return reply.header('cache-control', 'no-store')
      .send(await app.authService.refresh(request.body.refresh_token, clientContext(request)))
  })
}

export default authRoutes
