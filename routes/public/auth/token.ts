import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { OAuthError, type AppError } from '../../../src/errors.js'
import { clientContext } from '../../client-context.js'
import { oauthErrorResponses, RevokeRequestBody, TokenRequestBody, TokenResponse } from '../../../src/schemas/auth.js'
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

/**
 * RFC 6749 §3.2: a parameter sent without a value is treated as omitted. Returns the
 * trimmed-of-empties request, or throws invalid_client for a confidential client's secret.
 */
function readTokenRequest<B extends Record<string, string | undefined>> (request: FastifyRequest, requestBody: B): B {
  const body = Object.fromEntries(Object.entries(requestBody).filter(([, value]) => value !== '')) as B
  const basicSecret = basicAuthSecret(request.headers.authorization)
  if ((body.client_secret !== undefined) || (basicSecret !== undefined && basicSecret !== '')) {
    throw new OAuthError('invalid_client', 'this service has only public clients: send no client_secret', 401,
      basicSecret === undefined ? {} : { 'www-authenticate': 'Basic realm="user-service"' })
  }
  return body
}

/** The password part of an `Authorization: Basic` header (Swagger UI sends an empty one), if any. */
function basicAuthSecret (header: string | undefined): string | undefined {
  const match = /^Basic\s+([A-Za-z0-9+/=]*)\s*$/i.exec(header ?? '')
  if (match === null) return undefined
  const decoded = Buffer.from(match[1] ?? '', 'base64').toString('utf8')
  const colon = decoded.indexOf(':')
  return colon === -1 ? '' : decodeURIComponent(decoded.slice(colon + 1).replace(/\+/g, ' '))
}

const tokenRoute: FastifyPluginAsyncTypebox = async (app) => {
  await setUpOAuthEndpoint(app, grantError)

  app.post('/token', {
    schema: {
      tags: ['auth'],
      operationId: 'issueToken',
      summary: 'OAuth2 token endpoint (password and refresh_token grants)',
      description: 'RFC 6749 §4.3 password grant (`username` is the email or the username) and §6 refresh_token grant ' +
        '(the refresh token is rotated: use the one in the answer next time). ' +
        'Takes application/x-www-form-urlencoded (JSON too). Public clients: client_id is ignored, client_secret must be empty.',
      consumes: ['application/x-www-form-urlencoded', 'application/json'],
      body: TokenRequestBody,
      response: {
        200: Type.Ref(TokenResponse),
        ...oauthErrorResponses(400, 401, 413, 415, 503)
      }
    }
  }, async (request) => {
    const body = readTokenRequest(request, request.body)
    switch (body.grant_type) {
      case undefined:
        throw new OAuthError('invalid_request', 'grant_type is required')
      case 'password': {
        if (body.username === undefined || body.password === undefined) {
          throw new OAuthError('invalid_request', 'the password grant needs username and password')
        }
        const user = await app.authService.verifyCredentials(body.username, body.password)
        return await app.authService.signIn(user, clientContext(request))
      }
      case 'refresh_token':
        if (body.refresh_token === undefined) throw new OAuthError('invalid_request', 'the refresh_token grant needs refresh_token')
        return await app.authService.refresh(body.refresh_token, clientContext(request))
      default:
        throw new OAuthError('unsupported_grant_type', `grant_type "${body.grant_type}" is not supported; use "password" or "refresh_token"`)
    }
  })

  app.post('/revoke', {
    schema: {
      tags: ['auth'],
      operationId: 'revokeToken',
      summary: 'OAuth2 token revocation (RFC 7009)',
      description: 'Ends the session of a refresh token or of an access token. Answers 200 for valid, unknown and ' +
        'already revoked tokens alike, so it reveals nothing about them.',
      consumes: ['application/x-www-form-urlencoded', 'application/json'],
      body: RevokeRequestBody,
      response: {
        200: Type.Null({ description: 'Revoked, or nothing to revoke' }),
        ...oauthErrorResponses(400, 401, 413, 415, 503)
      }
    }
  }, async (request, reply) => {
    const body = readTokenRequest(request, request.body)
    if (body.token === undefined) throw new OAuthError('invalid_request', 'token is required')
    await revokeToken(app, body.token, body.token_type_hint)
    return reply.code(200).send(null)
  })
}

/** RFC 7009 §2.1: the hint only says where to look first; every kind of token is tried. */
async function revokeToken (app: FastifyInstance, token: string, hint: string | undefined): Promise<void> {
  const asAccessToken = async (): Promise<boolean> => {
    const sid = (await app.verifyAccessToken(token))?.sid
    if (typeof sid !== 'string') return false
    await app.sessionsService.end(sid, 'revoked')
    return true
  }
  const asRefreshToken = (): Promise<boolean> => app.sessionsService.revokeByRefreshToken(token)
  const order = hint === 'access_token' ? [asAccessToken, asRefreshToken] : [asRefreshToken, asAccessToken]
  for (const attempt of order) {
    if (await attempt()) return
  }
}

export default tokenRoute
