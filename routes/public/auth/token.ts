import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyInstance } from 'fastify'
import type { ClientContext } from '../../../src/auth/sessions/sessions.service.js'
import { OAuthError, type AppError } from '../../../src/errors.js'
import { clientContext } from '../../client-context.js'
import { RevokeRequestBody, TokenRequestBody, TokenResponse } from '../../../src/schemas/auth.js'
import { optionalClientSecurity } from '../../../src/schemas/common.js'
import { rateLimited } from '../../../src/rate-limit/rules.js'
import { RATE_LIMIT } from '../../../src/schemas/headers.js'
import { oauthResponses as oauthFamily, TOKEN_REQUIRED } from '../../../src/schemas/responses.js'
import { authorizeGrant, grantedScopes } from '../../../src/auth/clients/client-authentication.js'
import { presentedClient, withoutEmpties } from './client-credentials.js'
import { setUpOAuthEndpoint } from './oauth-endpoint.js'
import { Type } from '@sinclair/typebox'

/** The grant errors of the token endpoint (RFC 6749 §5.2 invalid_grant). */
function grantError (error: AppError): OAuthError | undefined {
  switch (error.code) {
    case 'invalid_credentials': return new OAuthError('invalid_grant', 'the username or the password is not correct')
    case 'account_disabled': return new OAuthError('invalid_grant', 'this account is disabled')
    case 'invalid_grant': return new OAuthError('invalid_grant', error.message)
    default: return undefined
  }
}

/** Every answer of a rate-limited route may carry the RateLimit-* headers. */
const oauthResponses = oauthFamily.with(RATE_LIMIT)

const tokenRoute: FastifyPluginAsyncTypebox = async (app) => {
  await setUpOAuthEndpoint(app, grantError)

  app.post('/token', {
    schema: {
      tags: ['auth'],
      operationId: 'issueToken',
      summary: 'OAuth2 token endpoint (password, refresh_token, client_credentials and authorization_code grants)',
      description: 'RFC 6749 §4.3 password grant (`username` is the email or the username), §6 refresh_token grant ' +
        '(the refresh token is rotated: use the one in the answer next time) and §4.4 client_credentials grant (a ' +
        'confidential client, authenticated) and §4.1.3 authorization_code grant (the one-time code of a sign-in through an ' +
        'external identity provider, with the front end\'s PKCE code_verifier and its redirect_uri). Takes application/x-www-form-urlencoded (JSON too). A registered ' +
        'confidential client authenticates with client_secret_basic or client_secret_post; public clients need no ' +
        'credentials, and whatever secret they send is ignored.',
      consumes: ['application/x-www-form-urlencoded', 'application/json'],
      security: optionalClientSecurity,
      body: TokenRequestBody,
      response: {
        200: oauthResponses.json(Type.Ref(TokenResponse), 'An access token and a refresh token (a new one, with the refresh_token grant)'),
        ...oauthResponses.errors(400, 401, 413, 415, 429, 500, 503)
      }
    },
    config: rateLimited('signin')
  }, async (request) => {
    const body = withoutEmpties(request.body)
    const context = clientContext(request)
    const grantType = body.grant_type
    if (grantType === undefined) throw new OAuthError('invalid_request', 'grant_type is required')
    const client = await app.clientAuthenticator.authenticate(presentedClient(request, body), context)
    authorizeGrant(client, grantType)
    switch (grantType) {
      case 'password': {
        if (body.username === undefined || body.password === undefined) {
          throw new OAuthError('invalid_request', 'the password grant needs username and password')
        }
        const user = await app.authService.verifyCredentials(body.username, body.password, context)
        return await app.authService.signIn(user, context)
      }
      case 'authorization_code': {
        if (body.code === undefined || body.code_verifier === undefined || body.redirect_uri === undefined) {
          throw new OAuthError('invalid_request', 'the authorization_code grant needs code, code_verifier and redirect_uri')
        }
        const user = await app.oidc.redeem(body.code, body.code_verifier, body.redirect_uri)
        return await app.authService.signIn(user, context)
      }
      case 'refresh_token':
        if (body.refresh_token === undefined) throw new OAuthError('invalid_request', 'the refresh_token grant needs refresh_token')
        return await app.authService.refresh(body.refresh_token, context)
      default:
        return await app.tokens.issueClientToken(client, grantedScopes(client, body.scope))
    }
  })

  app.post('/revoke', {
    schema: {
      tags: ['auth'],
      operationId: 'revokeToken',
      summary: 'OAuth2 token revocation (RFC 7009)',
      description: 'Ends the session of a refresh token or of an access token. Answers 200 for valid, unknown and ' +
        'already revoked tokens alike, so it reveals nothing about them. A confidential client that sends credentials ' +
        'must send the right ones.',
      consumes: ['application/x-www-form-urlencoded', 'application/json'],
      security: optionalClientSecurity,
      body: RevokeRequestBody,
      response: {
        // RFC 7009 §2.2: 200 with no body.
        200: oauthResponses.empty<undefined>('Revoked, or nothing to revoke; no body'),
        ...oauthResponses.errors(TOKEN_REQUIRED, 401, 413, 415, 429, 500, 503)
      }
    },
    config: rateLimited('sessions')
  }, async (request, reply) => {
    const body = withoutEmpties(request.body)
    // A confidential client that authenticates must do so correctly; anyone else may revoke what they hold.
    await app.clientAuthenticator.authenticate(presentedClient(request, body), clientContext(request))
    if (body.token === undefined) throw new OAuthError('invalid_request', 'token is required')
    await revokeToken(app, body.token, body.token_type_hint, clientContext(request))
    return reply.code(200).send()
  })
}

/** RFC 7009 §2.1: the hint only says where to look first; every kind of token is tried. */
async function revokeToken (app: FastifyInstance, token: string, hint: string | undefined, context: ClientContext): Promise<void> {
  const asAccessToken = async (): Promise<boolean> => {
    const sid = (await app.verifyAccessToken(token))?.sid
    if (typeof sid !== 'string') return false
    await app.sessionsService.revoke(sid, context)
    return true
  }
  const asRefreshToken = (): Promise<boolean> => app.sessionsService.revokeByRefreshToken(token, context)
  const order = hint === 'access_token' ? [asAccessToken, asRefreshToken] : [asRefreshToken, asAccessToken]
  for (const attempt of order) {
    if (await attempt()) return
  }
}

export default tokenRoute
