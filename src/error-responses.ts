import type { FastifyError, FastifyRequest } from 'fastify'
import { KeyDecryptionError } from './auth/keys/key-material.js'
import { DatabaseUnavailableError } from './db/breaker.js'
import { isMissingTable } from './db/errors.js'
import { isInfrastructureError } from './db/infrastructure-errors.js'
import { AppError, OAuthError, validationFailed, type FieldError } from './errors.js'

/*
 * How errors reach a client: any thrown error as a catalogue AppError (problem+json), or on
 * the OAuth endpoints as an RFC 6749 §5.2 error, and how each is logged.
 */

/** Fastify's own errors that are the client's fault, mapped to catalogue codes. */
const frameworkErrors: Record<string, (error: FastifyError) => AppError> = {
  FST_ERR_CTP_BODY_TOO_LARGE: () => new AppError('payload_too_large', 'the request body is larger than the limit'),
  // Fastify's message is a bare "Unsupported Media Type": say what the API takes instead.
  FST_ERR_CTP_INVALID_MEDIA_TYPE: () => new AppError('unsupported_media_type', 'unsupported content type: send the body as application/json'),
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: () => new AppError('bad_request', 'Content-Length does not match the body')
}

/** Turns any error into the AppError a client should see; unknown errors become an opaque 500. */
export function toAppError (error: FastifyError | Error): AppError {
  if (error instanceof AppError) return error
  const fastifyError = error as FastifyError
  if (fastifyError.validation !== undefined) {
    return validationFailed(fastifyError.validation.map((issue) => describeIssue(issue, fastifyError.validationContext)))
  }
  const framework = fastifyError.code === undefined ? undefined : frameworkErrors[fastifyError.code]
  if (framework !== undefined) return framework(fastifyError)
  if (error instanceof DatabaseUnavailableError) {
    return new AppError('service_unavailable', error.message, { cause: error, headers: { 'retry-after': String(error.retryAfterSeconds) } })
  }
  if (error instanceof KeyDecryptionError) {
    return new AppError('service_unavailable', 'this instance cannot sign tokens right now; quote the request_id when reporting it', { cause: error })
  }
  // A database error that escaped the breaker (a failed cleanup on a lost connection).
  if (isInfrastructureError(error)) {
    return new AppError('service_unavailable', 'the database is unreachable; try again shortly', { cause: error, headers: { 'retry-after': '1' } })
  }
  if (isMissingTable(error)) {
    return new AppError('service_unavailable', 'the database schema is not up to date: migrations are pending', { cause: error })
  }
  if (error instanceof SyntaxError && fastifyError.statusCode === 400) return new AppError('invalid_json', 'the body is not valid JSON')
  const status = fastifyError.statusCode ?? 500
  if (status >= 400 && status < 500) return new AppError('bad_request', fastifyError.message)
  return new AppError('internal_error', 'an unexpected error occurred; quote the request_id when reporting it', { cause: error })
}

type ValidationIssue = NonNullable<FastifyError['validation']>[number]

const patternMessages: Record<string, string> = {
  email: 'must be an email address such as alice@example.com, without spaces, control or invisible characters',
  username: 'may only contain letters, digits, "_", "." and "-"'
}

function describeIssue (issue: ValidationIssue, context: string | undefined): FieldError {
  const params = issue.params as Record<string, unknown>
  const prefix = context === undefined || context === 'body' ? '' : `/${context}`
  if (issue.keyword === 'required') {
    return { path: `${prefix}${issue.instancePath}/${String(params.missingProperty)}`, message: 'is required' }
  }
  if (issue.keyword === 'additionalProperties') {
    return { path: `${prefix}${issue.instancePath}/${String(params.additionalProperty)}`, message: 'is not a known field' }
  }
  const field = issue.instancePath.split('/').pop() ?? ''
  const message = issue.keyword === 'pattern' ? patternMessages[field] ?? 'has an invalid format' : issue.message ?? 'is invalid'
  return { path: `${prefix}${issue.instancePath}`, message }
}

export function problemBody (error: AppError, request: FastifyRequest): Record<string, unknown> {
  return {
    type: 'about:blank',
    title: error.title,
    status: error.status,
    detail: error.message,
    instance: request.url.split('?')[0],
    code: error.code,
    request_id: request.id,
    ...(error.errors === undefined ? {} : { errors: error.errors })
  }
}

/** Logs 5xx with the cause (the client only sees the request id), 4xx at info. */
export function logError (request: FastifyRequest, appError: AppError, original: Error): void {
  // An outage or overload is one condition, logged once as such (db_breaker, load_shedding), not a bug per request.
  if (appError.code === 'service_unavailable') request.log.warn({ code: appError.code, status: appError.status, cause: original.message }, appError.message)
  else if (appError.status >= 500) request.log.error({ err: original }, 'request failed')
  else request.log.info({ code: appError.code, status: appError.status }, appError.message)
}

/** Catalogue errors in RFC 6749 §5.2 terms; `special` handles the endpoint's own codes first. */
export function toOAuthError (error: AppError, special: (error: AppError) => OAuthError | undefined = () => undefined): OAuthError {
  const own = special(error)
  if (own !== undefined) return own
  switch (error.code) {
    case 'service_unavailable': return new OAuthError('temporarily_unavailable', error.message, 503, error.headers)
    case 'too_many_requests': return new OAuthError('too_many_requests', error.message, 429, error.headers)
    case 'internal_error': return new OAuthError('server_error', error.message, 500)
    default: return new OAuthError('invalid_request', error.message, error.status, error.headers)
  }
}
