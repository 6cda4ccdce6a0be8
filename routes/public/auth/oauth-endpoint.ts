import fastifyFormbody from '@fastify/formbody'
import type { FastifyError, FastifyInstance } from 'fastify'
import { logError, toAppError, toOAuthError } from '../../../src/error-responses.js'
import { OAuthError, type AppError } from '../../../src/errors.js'

/**
 * What every OAuth endpoint plugin shares: form bodies (the rest of the API takes JSON only),
 * `Cache-Control: no-store`, and errors in RFC 6749 §5.2 shape instead of problem+json.
 */
export async function setUpOAuthEndpoint (app: FastifyInstance, special?: (error: AppError) => OAuthError | undefined): Promise<void> {
  await app.register(fastifyFormbody)

  app.addHook('onSend', (_request, reply, payload, done) => {
    reply.header('cache-control', 'no-store').header('pragma', 'no-cache')
    done(null, payload)
  })

  app.setErrorHandler((error: FastifyError, request, reply) => {
    const oauthError = error instanceof OAuthError ? error : toOAuthError(toAppError(error), special)
    if (!(error instanceof OAuthError)) logError(request, toAppError(error), error)
    return reply.code(oauthError.status).headers(oauthError.headers)
      .send({ error: oauthError.error, error_description: oauthError.description })
  })
}
