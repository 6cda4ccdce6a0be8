import type { FastifyError, FastifyReply } from 'fastify'
import fp from 'fastify-plugin'
import { logError, problemBody, toAppError } from '../src/error-responses.js'
import { AppError, validationFailed } from '../src/errors.js'
import { inspectRequestPart, unknownFields } from '../src/schemas/request-inspection.js'

declare module 'fastify' {
  interface FastifyReply {
    /** Sends `error` as an RFC 9457 problem document. */
    problem: (error: AppError) => FastifyReply
  }
}

export default fp(async (app) => {
  app.decorateReply('problem', function (this: FastifyReply, error: AppError) {
    return this.code(error.status)
      .headers(error.headers)
      .type('application/problem+json; charset=utf-8')
      .send(problemBody(error, this.request))
  })

  // Before the schemas run: what would crash the database or the validator, or make the answer
  // grow with the body (NUL bytes, deep nesting, thousands of unknown fields), refused cheaply.
  app.addHook('preValidation', (request, _reply, done) => {
    // Unknown fields first: it looks at the top level only, and the walk below is then done
    // only for a body of known fields.
    const unknown = unknownFields(request.body, request.routeOptions.schema?.body)
    if (unknown.total > 0) return done(validationFailed(unknown.errors, unknown.total))
    const found = [
      ...inspectRequestPart(request.body, ''),
      ...inspectRequestPart(request.query, '/querystring'),
      ...inspectRequestPart(request.params, '/params')
    ]
    done(found.length > 0 ? validationFailed(found) : undefined)
  })

  app.setErrorHandler((error: FastifyError, request, reply) => {
    const appError = toAppError(error)
    logError(request, appError, error)
    return reply.problem(appError)
  })

  app.setNotFoundHandler((request, reply) => {
    return reply.problem(new AppError('not_found', `no route for ${request.method} ${request.url.split('?')[0]}`))
  })
}, { name: 'errors', dependencies: ['config'] })
