import fastifyJwt from '@fastify/jwt'
import type { FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify'
import fp from 'fastify-plugin'
import { accessTokenVerifyOptions, bodyTokenVerifier, claimsRefusal } from '../src/auth/access-tokens.js'
import { KeyDecryptionError } from '../src/auth/keys/key-material.js'
import { KeyStore } from '../src/auth/keys/key-store.js'
import { PasswordPolicy } from '../src/auth/password-policy.js'
import { PasswordHasher } from '../src/auth/passwords.js'
import { TokenService, type AccessTokenClaims } from '../src/auth/tokens.js'
import { keyIdOf, VerifiedTokens } from '../src/auth/verified-tokens.js'
import type { SessionLookup } from '../src/auth/sessions/session-view.js'
import { isMissingTable } from '../src/db/errors.js'
import type { UserRow } from '../src/db/types.js'
import { AppError } from '../src/errors.js'

declare module 'fastify' {
  interface FastifyInstance {
    passwords: PasswordHasher
    /** What a new password must be; every way of setting one checks it. */
    passwordPolicy: PasswordPolicy
    tokens: TokenService
    keyStore: KeyStore
    /** The claims of a valid access token of ours, or undefined (expired, forged, not a JWT...). */
    verifyAccessToken: (token: string) => Promise<AccessTokenClaims | undefined>
    /** A valid bearer token of an existing, active user with a live session, or 401 (for a preHandler that decides). */
    authenticate: (request: FastifyRequest, reply: FastifyReply) => Promise<void>
    /**
     * `authenticate` as an onRequest hook. A callback, not an async function: every protected
     * request passes it, and one whose token was verified before and whose session the view
     * holds (nearly all) is answered without a promise.
     */
    authenticateHook: (request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction) => void
    /** An onRequest hook after `authenticate`: the signed-in user holds one of `roles`, or 403 `forbidden`. */
    requireRole: (...roles: string[]) => (request: FastifyRequest) => Promise<void>
  }
  interface FastifyRequest {
    /** The authenticated user, as `authenticate` found it (the session view, else the database). */
    currentUser: UserRow
    /** The session of the access token (`sid`), when it has one. */
    currentSessionId: string | null
  }
}

declare module '@fastify/jwt' {
  interface FastifyJWT {
    payload: AccessTokenClaims
    user: AccessTokenClaims
  }
}

export default fp(async (app) => {
  const { jwt } = app.config
  const keyStore = KeyStore.create(app.db, jwt, {
    refreshIntervalMs: app.config.keys.refreshIntervalMs,
    encryptionKey: app.config.keys.encryptionKey,
    onRefreshError: (error) => app.log.warn({ err: error }, 're-reading the signing keys failed; keeping the loaded ones')
  })
  app.addHook('onClose', async () => keyStore.close())
  app.addHook('onReady', async () => {
    try {
      await keyStore.assertDecryptable()
    } catch (error) {
      // An unreachable database is /ready's news, not a reason to refuse to start.
      if (error instanceof KeyDecryptionError) throw error
    }
  })

  // For tokens that arrive in a body (revocation) rather than the Authorization header.
  app.decorate('verifyAccessToken', bodyTokenVerifier(keyStore, jwt))

  // Verify-only: tokens are signed by TokenService with the key store's current key.
  await app.register(fastifyJwt, {
    secret: {
      public: async (_request: FastifyRequest, token: unknown) => keyStore.verificationKey((token as { header?: { kid?: unknown } }).header?.kid)
    },
    decode: { complete: true },
    // Verified tokens are kept by `verifiedTokens` below, not by fast-jwt's cache.
    verify: accessTokenVerifyOptions(jwt)
  })
  const verifiedTokens = new VerifiedTokens(VERIFIED_TOKENS_KEPT, (kid) => keyStore.verifies(kid))

  app.decorate('keyStore', keyStore)
  app.decorate('passwords', new PasswordHasher(app.config.argon2, app.metrics ?? undefined))
  app.decorate('passwordPolicy', new PasswordPolicy(app.config.passwordPolicy.minLength))
  app.decorate('tokens', new TokenService(keyStore, jwt))
  app.decorateRequest('currentUser', null as unknown as UserRow)
  app.decorateRequest('currentSessionId', null)

  /** The claims of the request's bearer token if this instance has verified it before. */
  function keptClaims (request: FastifyRequest): AccessTokenClaims | undefined {
    const token = bearerToken(request)
    return token === undefined ? undefined : verifiedTokens.claimsOf(token)
  }

  async function verifiedClaims (request: FastifyRequest): Promise<AccessTokenClaims> {
    const claims = await verifyBearerToken(request)
    const refusal = claimsRefusal(claims, jwt)
    if (refusal !== null) throw invalidToken(refusal)
    const token = bearerToken(request)
    if (token !== undefined) verifiedTokens.remember(token, keyIdOf(token), claims)
    return claims
  }

  /** Signs the request in with `kept` (the token's claims if verified before), verifying the token when there are none. */
  async function authenticate (request: FastifyRequest, kept: AccessTokenClaims | undefined): Promise<void> {
    const claims = kept ?? await verifiedClaims(request)
    // claimsRefusal has checked that `sid` is a session id.
    signIn(request, claims, await app.sessionView.lookup(claims.sub, claims.sid as string))
  }

  app.decorate('authenticate', async (request: FastifyRequest) => authenticate(request, keptClaims(request)))
  app.decorate('authenticateHook', function authenticateHook (request: FastifyRequest, _reply: FastifyReply, done: HookHandlerDoneFunction) {
    const claims = keptClaims(request)
    const found = claims === undefined ? undefined : app.sessionView.kept(claims.sub, claims.sid as string)
    if (claims === undefined || found === undefined) {
      authenticate(request, claims).then(() => { done() }, done)
      return
    }
    try {
      signIn(request, claims, found)
    } catch (error) {
      done(error as Error)
      return
    }
    done()
  })

  app.decorate('requireRole', (...roles: string[]) => async function requireRole (request: FastifyRequest) {
    if (!request.currentUser.roles.some((role) => roles.includes(role))) {
      throw new AppError('forbidden', `this endpoint needs the role ${roles.join(' or ')}`)
    }
  })

  // Warm the dummy hash now so the first unknown-user login is not the slow one.
  await app.passwords.dummyHash()
}, { name: 'auth', dependencies: ['config', 'db', 'metrics'] })

/** Access tokens whose verification an instance keeps (about 1 KB each). */
const VERIFIED_TOKENS_KEPT = 10_000

/**
 * The token of `Authorization: Bearer <token>`, as @fastify/jwt reads it (the header split at
 * spaces into exactly two parts, the first `bearer` in any case); undefined otherwise.
 */
function bearerToken (request: FastifyRequest): string | undefined {
  const header = request.headers.authorization
  if (header === undefined || header.indexOf(' ') !== BEARER.length || header.includes(' ', BEARER.length + 1)) return undefined
  return header.slice(0, BEARER.length).toLowerCase() === BEARER ? header.slice(BEARER.length + 1) : undefined
}

const BEARER = 'bearer'

/** Signs the request in as `found`'s user, or throws why the token is refused. */
function signIn (request: FastifyRequest, claims: AccessTokenClaims, found: SessionLookup): void {
  if ('refusal' in found) throw invalidToken(found.refusal)
  request.currentUser = found.user
  request.currentSessionId = claims.sid ?? null
}

async function verifyBearerToken (request: FastifyRequest): Promise<AccessTokenClaims> {
  try {
    return await request.jwtVerify<AccessTokenClaims>()
  } catch (error) {
    // The key store could not be read (schema not migrated): not the token's fault.
    if (isMissingTable(error)) throw error
    const code = (error as { code?: string }).code
    if (code === 'FST_JWT_NO_AUTHORIZATION_IN_HEADER') {
      throw new AppError('not_authenticated', 'this endpoint needs a bearer token (Authorization: Bearer <access_token>)', {
        headers: { 'www-authenticate': 'Bearer realm="user-service"' }
      })
    }
    if (code === 'FST_JWT_AUTHORIZATION_TOKEN_EXPIRED') {
      throw new AppError('token_expired', 'the access token has expired', { headers: { 'www-authenticate': bearerError('the access token expired') } })
    }
    throw invalidToken('the access token is malformed, not signed by this service, or not meant for it')
  }
}

function invalidToken (description: string): AppError {
  return new AppError('invalid_token', description, { headers: { 'www-authenticate': bearerError(description) } })
}

function bearerError (description: string): string {
  return `Bearer realm="user-service", error="invalid_token", error_description="${description}"`
}
