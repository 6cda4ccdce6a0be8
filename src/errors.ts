/**
 * The error catalogue. Every error a client can see has a stable snake_case `code`, an HTTP
 * status and a short title; services throw these, and one error handler turns them into
 * RFC 9457 problem documents (or RFC 6749 errors on the OAuth endpoints).
 */
export const errorCatalogue = {
  validation_failed: { status: 400, title: 'Validation failed' },
  invalid_json: { status: 400, title: 'Malformed JSON' },
  bad_request: { status: 400, title: 'Bad request' },
  invalid_grant: { status: 400, title: 'Invalid grant' },
  not_authenticated: { status: 401, title: 'Not authenticated' },
  invalid_token: { status: 401, title: 'Invalid token' },
  token_expired: { status: 401, title: 'Token expired' },
  invalid_credentials: { status: 401, title: 'Invalid credentials' },
  invalid_password: { status: 403, title: 'Invalid password' },
  account_disabled: { status: 403, title: 'Account disabled' },
  forbidden: { status: 403, title: 'Forbidden' },
  not_found: { status: 404, title: 'Not found' },
  method_not_allowed: { status: 405, title: 'Method not allowed' },
  email_taken: { status: 409, title: 'Email already registered' },
  username_taken: { status: 409, title: 'Username already taken' },
  last_admin: { status: 409, title: 'Last admin' },
  no_password: { status: 409, title: 'No password set' },
  payload_too_large: { status: 413, title: 'Payload too large' },
  unsupported_media_type: { status: 415, title: 'Unsupported media type' },
  too_many_requests: { status: 429, title: 'Too many requests' },
  internal_error: { status: 500, title: 'Internal server error' },
  service_unavailable: { status: 503, title: 'Service unavailable' }
} as const satisfies Record<string, { status: number, title: string }>

export type ErrorCode = keyof typeof errorCatalogue

export interface FieldError {
  /** JSON Pointer into the request part, e.g. `/email`. */
  path: string
  message: string
}

export interface AppErrorOptions {
  errors?: FieldError[]
  headers?: Record<string, string>
  cause?: unknown
}

export class AppError extends Error {
  override name = 'AppError'
  readonly status: number
  readonly title: string
  readonly errors: FieldError[] | undefined
  readonly headers: Record<string, string>

  constructor (readonly code: ErrorCode, detail: string, options: AppErrorOptions = {}) {
    super(detail, options.cause === undefined ? undefined : { cause: options.cause })
    this.status = errorCatalogue[code].status
    this.title = errorCatalogue[code].title
    this.errors = options.errors
    this.headers = options.headers ?? {}
  }
}

/** At most this many field errors reach a client or a log line, however many fields are wrong. */
export const MAX_FIELD_ERRORS = 20

/** A field path longer than this (a key can be most of a body) is cut, so an answer stays small. */
const MAX_PATH_LENGTH = 200

/**
 * A 400 listing what is wrong with the request. `total` counts every problem found when only
 * some are given; the answer lists MAX_FIELD_ERRORS at most and says how many more there were.
 */
export function validationFailed (errors: FieldError[], total = errors.length): AppError {
  const listed = errors.slice(0, MAX_FIELD_ERRORS).map((error) => ({
    path: error.path.length > MAX_PATH_LENGTH ? `${error.path.slice(0, MAX_PATH_LENGTH)}…` : error.path,
    message: error.message
  }))
  const more = Math.max(total, errors.length) - listed.length
  const detail = listed.map((error) => `${error.path === '' ? 'body' : error.path}: ${error.message}`).join('; ') +
    (more > 0 ? `; and ${more} more` : '')
  return new AppError('validation_failed', detail, { errors: listed })
}

/** The RFC 6749 §5.2 error codes this service answers with. */
export type OAuthErrorCode =
  | 'invalid_request'
  | 'invalid_client'
  | 'invalid_grant'
  | 'unauthorized_client'
  | 'unsupported_grant_type'
  | 'invalid_scope'
  | 'temporarily_unavailable'
  | 'server_error'
  // Not in RFC 6749: the per-IP limits and login throttling (429 with Retry-After).
  | 'too_many_requests'
  // RFC 6750 §3.1, for endpoints that take a bearer token (introspection).
  | 'invalid_token'
  | 'insufficient_scope'

/** An error answered in RFC 6749 §5.2 shape, thrown only by the OAuth endpoints. */
export class OAuthError extends Error {
  override name = 'OAuthError'

  constructor (
    readonly error: OAuthErrorCode,
    readonly description: string,
    readonly status = 400,
    readonly headers: Record<string, string> = {}
  ) {
    super(description)
  }
}
