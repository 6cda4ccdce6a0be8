import fastifyFormbody from '@fastify/formbody'
import type { FastifyError, FastifyInstance } from 'fastify'
import { logError, toAppError } from '../../../plugins/errors.js'
import { OAuthError, type AppError } from '../../../src/errors.js'

/** Catalogue errors in RFC 6749 §5.2 terms; `special` handles the endpoint's own codes first. */
export function toOAuthError (error: AppError, special: (error: AppError) => OAuthError | undefined = () => undefined): OAuthError {
  const own = special(error)
  if (own !== undefined) return own
  switch (error.code) {
    case 'service_unavailable': return new OAuthError('temporarily_unavailable', error.message, 503, error.headers)
    case 'internal_error': return new OAuthError('server_error', error.message, 500)
    default: return new OAuthError('invalid_request', error.message, error.status, error.headers)
  }
}

/**
 * What every OAuth endpoint plugin shares: form bodies (the rest of the API takes JSON only),
 * `Cache-Control: no-store`, and errors in RFC 6749 §5.2 shape instead of problem+json.
 */
export async function setUpOAuthEndpoint (app: FastifyInstance, special?: (error: AppError) => OAuthError | undefined): Promise<void> {
  await app.register(fastifyFormbody)

  app.addHook('onSend', async (_request, reply) => {
    reply.header('cache-control', 'no-store').header('pragma', 'no-cache')
  })

  app.setErrorHandler((error: FastifyError, request, reply) => {
    const oauthError = error instanceof OAuthError ? error : toOAuthError(toAppError(error), special)
    if (!(error instanceof OAuthError)) logError(request, toAppError(error), error)
    return reply.code(oauthError.status).headers(oauthError.headers)
      .send({ error: oauthError.error, error_description: oauthError.description })
  })
}
