/**
 * The response headers the OpenAPI document declares. A response schema names them under
 * `headers` (see responses.ts); @fastify/swagger turns each into an OpenAPI header object, and
 * `shareHeaders` then declares each of these once, under components.headers.
 */

interface HeaderSchema {
  type: 'string' | 'integer'
  description: string
  examples: Array<string | number>
}
export type Headers = Record<string, HeaderSchema>

/** Component name of each shared header, by header name and description. */
const components = new Map<string, string>()
const componentKey = (name: string, description: string): string => `${name}\n${description}`

function header (name: string, description: string, example: string | number, component?: string): Headers {
  if (component !== undefined) components.set(componentKey(name, description), component)
  return { [name]: { type: typeof example === 'number' ? 'integer' : 'string', description, examples: [example] } }
}

export const REQUEST_ID = header('X-Request-ID', 'The id of this request in the service\'s logs: the caller\'s X-Request-ID when it is ' +
  '1-128 characters of A-Z a-z 0-9 . _ : -, else a new UUID. Quote it when reporting a problem.', '3f0c9a52-5d1e-4d8b-9a57-2f4be1c0e6d1', 'RequestId')
export const RETRY_AFTER = header('Retry-After', 'Whole seconds to wait before trying again: until the database circuit breaker ' +
  'half-opens, or 5 while the service sheds load', 5, 'RetryAfter')
export const NO_STORE = header('Cache-Control', 'No cache may keep this answer (tokens, personal data, or a state that changes)', 'no-store', 'NoStore')
/** The per-IP limit of the route (IETF draft-ietf-httpapi-ratelimit-headers), on every answer while limits are on. */
export const RATE_LIMIT = {
  ...header('RateLimit-Limit', 'Requests this address may send to this kind of route per window', 20, 'RateLimitLimit'),
  ...header('RateLimit-Remaining', 'Requests left in the current window', 19, 'RateLimitRemaining'),
  ...header('RateLimit-Reset', 'Whole seconds until the current window ends', 42, 'RateLimitReset')
}
/** Retry-After of a 429: until the rate-limit window ends. */
export const RATE_LIMIT_RETRY_AFTER = header('Retry-After', 'Whole seconds to wait before trying again: until this address\'s ' +
  'rate-limit window ends', 42, 'RateLimitRetryAfter')
/** What the OAuth endpoints send on every answer (RFC 6749 §5.1). */
export const OAUTH_NO_STORE = { ...NO_STORE, ...header('Pragma', 'For HTTP/1.0 caches, as RFC 6749 §5.1 asks', 'no-cache', 'PragmaNoCache') }
export const LOCATION = header('Location', 'The path of the new account', '/api/v1/users/0193a8f0-6b7c-7a3e-9a51-0f1d2e3c4b5a', 'Location')
export const BEARER_CHALLENGE = header('WWW-Authenticate', 'What is wrong with the bearer token (RFC 6750 §3)',
  'Bearer realm="user-service", error="invalid_token", error_description="the access token has expired"', 'BearerChallenge')
export const INSUFFICIENT_SCOPE_CHALLENGE = header('WWW-Authenticate', 'The token is valid but its account lacks a role (RFC 6750 §3.1)',
  'Bearer realm="user-service", error="insufficient_scope"', 'InsufficientScopeChallenge')
export const BASIC_CHALLENGE = header('WWW-Authenticate', 'Sent when the client authenticated with Authorization: Basic (RFC 6749 §5.2)',
  'Basic realm="user-service"', 'BasicChallenge')

/** Cache-Control of public answers that any cache may keep for `seconds`. */
export function cacheableFor (seconds: number): Headers {
  return header('Cache-Control', `Any cache may keep this answer for ${seconds} s`, `public, max-age=${seconds}`)
}

interface OpenApiResponse { headers?: Record<string, { description?: string } | { $ref: string }> }
interface OpenApiDocument {
  paths?: Record<string, Record<string, { responses?: Record<string, OpenApiResponse> } | undefined> | undefined>
  components?: Record<string, unknown>
}

/** Declares each shared header once, under components.headers, and refers to it from the responses of `document`. */
export function shareHeaders (document: object): void {
  const openapi = document as OpenApiDocument
  const shared: Record<string, unknown> = {}
  const responses = Object.values(openapi.paths ?? {}).flatMap((item) => Object.values(item ?? {}))
    .flatMap((operation) => Object.values(operation?.responses ?? {}))
  for (const response of responses) {
    for (const [name, value] of Object.entries(response.headers ?? {})) {
      const component = 'description' in value ? components.get(componentKey(name, value.description ?? '')) : undefined
      if (component === undefined) continue
      shared[component] = value
      response.headers = { ...response.headers, [name]: { $ref: `#/components/headers/${component}` } }
    }
  }
  openapi.components = { ...openapi.components, headers: shared }
}
