import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { OAuthError, type AppError } from '../../../src/errors.js'
import { clientContext } from '../../client-context.js'
import { RevokeRequestBody, TokenRequestBody, TokenResponse } from '../../../src/schemas/auth.js'
import { rateLimited } from '../../../src/rate-limit/rules.js'
import { RATE_LIMIT } from '../../../src/schemas/headers.js'
import { oauthResponses as oauthFamily, TOKEN_REQUIRED } from '../../../src/schemas/responses.js'
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

const BASIC_CHALLENGE = { 'www-authenticate': 'Basic realm="user-service"' }

/**
 * RFC 6749 §3.2: a parameter sent without a value is treated as omitted. Returns the
 * trimmed-of-empties request, or throws invalid_client for a confidential client's secret.
 */
function readTokenRequest<B extends Record<string, string | undefined>> (request: FastifyRequest, requestBody: B): B {
  const body = Object.fromEntries(Object.entries(requestBody).filter(([, value]) => value !== '')) as B
  const basic = basicCredentials(request.headers.authorization)
  if ((body.client_secret !== undefined) || (basic !== undefined && basic.secret !== '')) {
    throw new OAuthError('invalid_client', 'this service has only public clients: send no client_secret', 401,
      basic === undefined ? {} : BASIC_CHALLENGE)
  }
  return body
}

/**
 * The client id and secret of an `Authorization: Basic` header (RFC 6749 §2.3.1: both
 * form-encoded, then joined by ":" and base64-encoded), or undefined without one. Swagger UI
 * sends an empty pair. A value that is not base64 of "id:secret" is a 401 invalid_client.
 */
function basicCredentials (header: string | undefined): { id: string, secret: string } | undefined {
  const match = /^Basic(?:\s+(.*?))?\s*$/i.exec(header ?? '')
  if (match === null) return undefined
  const encoded = match[1] ?? ''
  const decoded = Buffer.from(encoded, 'base64')
  const colon = decoded.indexOf(':')
  if (encoded === '' || decoded.toString('base64').replace(/=+$/, '') !== encoded.replace(/=+$/, '') || colon === -1) {
    throw malformedBasic('is not base64 of "client_id:client_secret"')
  }
  try {
    return { id: formDecode(decoded.subarray(0, colon).toString('utf8')), secret: formDecode(decoded.subarray(colon + 1).toString('utf8')) }
  } catch {
    throw malformedBasic('holds a client_id or client_secret that is not form-encoded')
  }
}

function formDecode (value: string): string {
  return decodeURIComponent(value.replace(/\+/g, ' '))
}

function malformedBasic (problem: string): OAuthError {
  return new OAuthError('invalid_client', `the Authorization: Basic value ${problem} (RFC 6749 §2.3.1)`, 401, BASIC_CHALLENGE)
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
      security: [],
      body: TokenRequestBody,
      response: {
        200: oauthResponses.json(Type.Ref(TokenResponse), 'An access token and a refresh token (a new one, with the refresh_token grant)'),
        ...oauthResponses.errors(400, 401, 413, 415, 429, 500, 503)
      }
    },
    config: rateLimited('signin')
  }, async (request) => {
    const body = readTokenRequest(request, request.body)
    switch (body.grant_type) {
      case undefined:
        throw new OAuthError('invalid_request', 'grant_type is required')
      case 'password': {
        if (body.username === undefined || body.password === undefined) {
          throw new OAuthError('invalid_request', 'the password grant needs username and password')
        }
        const context = clientContext(request)
        const user = await app.authService.verifyCredentials(body.username, body.password, context)
        return await app.authService.signIn(user, context)
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
      security: [],
      body: RevokeRequestBody,
      response: {
        // RFC 7009 §2.2: 200 with no body.
        200: oauthResponses.empty<undefined>('Revoked, or nothing to revoke; no body'),
        ...oauthResponses.errors(TOKEN_REQUIRED, 401, 413, 415, 429, 500, 503)
      }
    },
    config: rateLimited('sessions')
  }, async (request, reply) => {
    const body = readTokenRequest(request, request.body)
    if (body.token === undefined) throw new OAuthError('invalid_request', 'token is required')
    await revokeToken(app, body.token, body.token_type_hint)
    return reply.code(200).send()
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
