import type { Readable } from 'node:stream'
import { Type, type Static, type TSchema, type TUnsafe } from '@sinclair/typebox'
import { errorCatalogue, type ErrorCode, type OAuthErrorCode } from '../errors.js'
import { OAuthErrorBody } from './auth.js'
import { Problem } from './common.js'
import { BASIC_CHALLENGE, BEARER_CHALLENGE, INSUFFICIENT_SCOPE_CHALLENGE, NO_STORE, OAUTH_NO_STORE, RATE_LIMIT, RATE_LIMIT_RETRY_AFTER, REQUEST_ID, RETRY_AFTER, type Headers } from './headers.js'

/**
 * Response schemas that also say, for the OpenAPI document, which headers an answer carries
 * and what it looks like. They use Fastify's `content` form: Fastify serializes with the
 * schema of the answer's media type and ignores `description` and `headers`, which only
 * @fastify/swagger reads. test/docs/openapi-answers.test.ts checks them against the answers.
 */

/** The documentation of one error status: what it means, a real answer of it, and its headers. */
interface ErrorSpec {
  description: string
  example: Record<string, unknown>
  headers?: Headers
}

function problemExample (code: ErrorCode, detail: string, instance: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  const { status, title } = errorCatalogue[code]
  return { type: 'about:blank', title, status, detail, instance, code, request_id: '3f0c9a52-5d1e-4d8b-9a57-2f4be1c0e6d1', ...extra }
}

const EMAIL_MESSAGE = 'must be an email address such as alice@example.com, without spaces, control or invisible characters'

const problemSpecs: Record<number, ErrorSpec> = {
  400: {
    description: 'Bad request: malformed JSON, or a field or parameter that fails validation (`errors` lists each)',
    example: problemExample('validation_failed', `/email: ${EMAIL_MESSAGE}`, '/api/v1/auth/register', { errors: [{ path: '/email', message: EMAIL_MESSAGE }] })
  },
  401: { description: 'Wrong login or password', example: problemExample('invalid_credentials', 'the login or the password is not correct', '/api/v1/auth/login') },
  403: { description: 'The account is disabled', example: problemExample('account_disabled', 'this account is disabled', '/api/v1/auth/login') },
  404: { description: 'Not found', example: problemExample('not_found', 'no identity provider is called "auth1"', '/api/v1/auth/oidc/auth1/authorize') },
  409: { description: 'The email or the username is taken', example: problemExample('email_taken', 'an account with this email already exists', '/api/v1/auth/register') },
  413: { description: 'The body is larger than BODY_LIMIT_BYTES', example: problemExample('payload_too_large', 'the request body is larger than the limit', '/api/v1/auth/register') },
  415: {
    description: 'The body is not application/json',
    example: problemExample('unsupported_media_type', 'unsupported content type: send the body as application/json', '/api/v1/auth/register')
  },
  429: {
    description: 'Too many requests from this address to this kind of route (per-IP limit); see Retry-After',
    example: problemExample('too_many_requests', 'too many requests from this address; try again in 42 s', '/api/v1/auth/login'),
    headers: { ...RATE_LIMIT, ...RATE_LIMIT_RETRY_AFTER }
  },
  500: {
    description: 'An unexpected error; the log has its cause under the request id',
    example: problemExample('internal_error', 'an unexpected error occurred; quote the request_id when reporting it', '/api/v1/auth/login')
  },
  503: {
    description: 'The database is unreachable (circuit breaker open) or not migrated, or the service sheds load; see Retry-After',
    example: problemExample('service_unavailable', 'the database is unavailable (circuit breaker open); try again in 7 s', '/api/v1/auth/login'),
    headers: RETRY_AFTER
  }
}

const protectedProblemSpecs: Record<number, ErrorSpec> = {
  ...problemSpecs,
  401: {
    description: 'No valid bearer token: missing, expired, revoked, or its account is disabled (see WWW-Authenticate)',
    example: problemExample('token_expired', 'the access token has expired', '/api/v1/users/me'),
    headers: BEARER_CHALLENGE
  },
  403: { description: 'The password given is wrong', example: problemExample('invalid_password', 'the password is not correct', '/api/v1/users/me/password') },
  404: {
    description: 'No such user, or not one you may see',
    example: problemExample('not_found', 'no such user', '/api/v1/users/0193a8f0-6b7c-7a3e-9a51-0f1d2e3c4b5a')
  }
}

function oauthExample (error: OAuthErrorCode, description: string): Record<string, unknown> {
  return { error, error_description: description }
}

const oauthSpecs: Record<number, ErrorSpec> = {
  400: {
    description: 'A parameter is missing or not valid (invalid_request, unsupported_grant_type), or the grant is refused (invalid_grant)',
    example: oauthExample('invalid_grant', 'the username or the password is not correct')
  },
  401: {
    description: 'The client sent a client_secret (this service has public clients only) or a malformed Authorization: Basic',
    example: oauthExample('invalid_client', 'this service has only public clients: send no client_secret'),
    headers: BASIC_CHALLENGE
  },
  413: { description: 'The body is larger than BODY_LIMIT_BYTES', example: oauthExample('invalid_request', 'the request body is larger than the limit') },
  415: {
    description: 'The body is neither application/x-www-form-urlencoded nor application/json',
    example: oauthExample('invalid_request', 'unsupported content type: send the body as application/json')
  },
  429: {
    description: 'Too many requests from this address to this kind of route (per-IP limit); see Retry-After',
    example: oauthExample('too_many_requests', 'too many requests from this address; try again in 42 s'),
    headers: { ...RATE_LIMIT, ...RATE_LIMIT_RETRY_AFTER }
  },
  500: { description: 'An unexpected error; the log has its cause under the request id', example: oauthExample('server_error', 'an unexpected error occurred; quote the request_id when reporting it') },
  503: {
    description: 'The database is unreachable or the service sheds load; see Retry-After',
    example: oauthExample('temporarily_unavailable', 'the database is unavailable (circuit breaker open); try again in 7 s'),
    headers: RETRY_AFTER
  }
}

/** The 400 of the OAuth endpoints that take a `token` parameter (revocation, introspection). */
export const TOKEN_REQUIRED = [400, 'No token parameter, or a parameter that is not valid (invalid_request)',
  oauthExample('invalid_request', 'token is required')] as const

/** The endpoints that take a bearer token answer its absence and its lack of a role in RFC 6750 terms. */
const bearerOAuthSpecs: Record<number, ErrorSpec> = {
  ...oauthSpecs,
  401: {
    description: 'No valid bearer token (see WWW-Authenticate)',
    example: oauthExample('invalid_token', 'the access token has expired'),
    headers: BEARER_CHALLENGE
  },
  403: {
    description: 'The bearer token\'s account has neither the role service nor admin',
    example: oauthExample('insufficient_scope', 'introspection needs an account with the role service or admin'),
    headers: INSUFFICIENT_SCOPE_CHALLENGE
  }
}

/** A status, or a status with what it means on this operation (and an answer of it there). */
export type StatusEntry<S extends number> = S | readonly [S, string, Record<string, unknown>?]

const NUL_MESSAGE = 'must not contain NUL bytes'

/** The 400 of a route without body or parameters: what it refuses is a query string (a NUL byte). */
export const INVALID_QUERY = [400, 'A query parameter holds a NUL byte', problemExample('validation_failed',
  `/querystring/q: ${NUL_MESSAGE}`, '/api/v1/users/me', { errors: [{ path: '/querystring/q', message: NUL_MESSAGE }] })] as const

/** The 400 of a route with an {id}. */
export const INVALID_ID = [400, 'The id is not a UUID, or a body or query parameter is not valid', problemExample('validation_failed',
  '/params/id: must match format "uuid"', '/api/v1/users/42', { errors: [{ path: '/params/id', message: 'must match format "uuid"' }] })] as const

/** The 403 of a route that needs the role admin. */
export const ADMIN_ONLY = [403, 'The signed-in account does not hold the role admin', problemExample('forbidden',
  'this endpoint needs the role admin', '/api/v1/admin/users')] as const

/** The 409 of a change to an account by an admin. */
export const ACCOUNT_CONFLICT = [409, 'The email or the username is taken (email_taken, username_taken), or the change would leave no active admin (last_admin)',
  problemExample('last_admin', 'this is the last active admin: make another account an active admin first', '/api/v1/admin/users/0193a8f0-6b7c-7a3e-9a51-0f1d2e3c4b5a')] as const

export const NO_PASSWORD = [409, 'The account has no password to confirm with: it signs in through an external identity provider',
  problemExample('no_password', 'this account has no password: it signs in through an identity provider; an admin can set one (a password reset)', '/api/v1/users/me/password')] as const
export const SESSION_NOT_FOUND = [404, 'No such live session of yours',
  problemExample('not_found', 'no such session', '/api/v1/auth/sessions/0193a8f2-4b5c-7d6e-9f01-2a3b4c5d6e7f')] as const

/** The 400 of a refresh: mostly a refresh token that does not work (any more). */
export const INVALID_REFRESH = [400, 'The refresh token is unknown, expired or already used (invalid_grant), or the body is not valid',
  problemExample('invalid_grant', 'the refresh token was already used', '/api/v1/auth/refresh')] as const

/** Builds the response schemas of a family of routes: what every answer carries, how errors read. */
export interface ResponseFamily {
  /** A success answer with a JSON body. */
  json: <T extends TSchema>(schema: T, description: string, headers?: Headers) => TUnsafe<Static<T>>
  /** A success answer without a body: `send(null)` (204), or `send()` with `empty<undefined>`. */
  empty: <T extends null | undefined = null>(description: string, headers?: Headers) => TUnsafe<T>
  /** A success answer that is a stream of Server-Sent Events (`text/event-stream`), sent as a Readable. */
  eventStream: (description: string, example: string, headers?: Headers) => TUnsafe<Readable>
  /** The error answers of the given statuses. */
  errors: <S extends number>(...statuses: Array<StatusEntry<S>>) => Record<S, TSchema>
  /** The same family, for routes that may send `headers` on any answer. */
  with: (headers: Headers) => ResponseFamily
}

interface FamilyOptions {
  /** Headers on every answer of the family, errors included. */
  always?: Headers
  errorMediaType: string
  errorSchema: TSchema
  specs: Record<number, ErrorSpec>
}

function responseFamily (options: FamilyOptions): ResponseFamily {
  const { always = {}, errorMediaType, errorSchema, specs } = options
  const headersOf = (own: Headers = {}): Headers => ({ ...REQUEST_ID, ...always, ...own })
  return {
    json: (schema, description, headers) => Type.Unsafe({
      description,
      headers: headersOf(headers),
      content: { 'application/json': { schema } }
    }),
    // type null: @fastify/swagger documents no content; Fastify sends none.
    empty: <T extends null | undefined = null>(description: string, headers?: Headers) =>
      Type.Unsafe<T>({ type: 'null', description, headers: headersOf(headers) }),
    eventStream: (description, example, headers) => Type.Unsafe<Readable>({
      description,
      headers: headersOf(headers),
      content: { 'text/event-stream': { schema: { type: 'string' }, example } }
    }),
    errors: <S extends number>(...statuses: Array<StatusEntry<S>>) => {
      const responses = {} as Record<S, TSchema>
      for (const entry of statuses) {
        const [status, description, example] = typeof entry === 'number' ? [entry] : entry
        const spec = specs[status]
        if (spec === undefined) throw new Error(`no documentation for error status ${status}`)
        responses[status] = Type.Unsafe({
          description: description ?? spec.description,
          headers: headersOf(spec.headers),
          content: { [errorMediaType]: { schema: Type.Ref(errorSchema), example: example ?? spec.example } }
        })
      }
      return responses
    },
    with: (headers) => responseFamily({ ...options, always: { ...always, ...headers } })
  }
}

/** Routes without a token: errors are RFC 9457 problem documents. */
export const publicResponses = responseFamily({ errorMediaType: 'application/problem+json', errorSchema: Problem, specs: problemSpecs })

/** Routes that need a bearer token: nothing they answer may be cached; 401 says why in WWW-Authenticate. */
export const protectedResponses = responseFamily({
  always: NO_STORE,
  errorMediaType: 'application/problem+json',
  errorSchema: Problem,
  specs: protectedProblemSpecs
})

/** The OAuth token and revocation endpoints: RFC 6749 §5.2 errors, never cached. */
export const oauthResponses = responseFamily({ always: OAUTH_NO_STORE, errorMediaType: 'application/json', errorSchema: OAuthErrorBody, specs: oauthSpecs })

/** OAuth endpoints that take a bearer token (introspection): also RFC 6750 §3.1 errors. */
export const bearerOAuthResponses = responseFamily({
  always: OAUTH_NO_STORE,
  errorMediaType: 'application/json',
  errorSchema: OAuthErrorBody,
  specs: bearerOAuthSpecs
})

/** The `content` of a problem answer of `status`, for responses that can have more than one body. */
export function problemContent (status: number): Record<string, unknown> {
  return { 'application/problem+json': { schema: Type.Ref(Problem), example: problemSpecs[status]?.example } }
}
