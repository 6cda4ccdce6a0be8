import fp from 'fastify-plugin'
import secureJson from 'secure-json-parse'
import { AppError, validationFailed } from '../src/errors.js'
import { jsonShapeProblem, MAX_JSON_VALUES, MAX_NESTING_DEPTH } from '../src/schemas/request-inspection.js'

declare module 'fastify' {
  interface FastifyContextConfig {
    /** An empty body sent as application/json is no body (for routes whose body is optional). */
    emptyJsonBody?: boolean
  }
}

/** secure-json-parse's refusal of a key that could pollute prototypes. */
const FORBIDDEN_KEY = /forbidden (prototype|constructor) property/

/**
 * Fastify's own JSON parser, with errors that say what is wrong (Fastify reports a
 * `__proto__` key, refused as it must be, as plain invalid JSON), and a body with more values
 * than any request needs refused before it is parsed.
 */
export default fp(async (app) => {
  app.removeContentTypeParser('application/json')
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    if (body === '' && request.routeOptions.config.emptyJsonBody === true) {
      done(null, undefined)
      return
    }
    if (body === '') {
      done(new AppError('invalid_json', 'the body is empty but Content-Type is application/json'), undefined)
      return
    }
    const problem = jsonShapeProblem(body as string, MAX_NESTING_DEPTH, MAX_JSON_VALUES)
    if (problem !== null) {
      done(validationFailed([{ path: '', message: problem.kind === 'too_deep'
        ? `is nested deeper than ${MAX_NESTING_DEPTH} levels (at character ${problem.at})`
        : `holds more than ${MAX_JSON_VALUES} fields and array elements (at character ${problem.at}); no request of this API needs that many` }]), undefined)
      return
    }
    try {
      done(null, secureJson.parse(body as string, null, { protoAction: 'error', constructorAction: 'error' }))
    } catch (error) {
      const forbidden = error instanceof Error && FORBIDDEN_KEY.test(error.message)
      done(new AppError('invalid_json', forbidden
        ? 'the body has a "__proto__" or "constructor.prototype" key; such keys are refused'
        : 'the body is not valid JSON'), undefined)
    }
  })
}, { name: 'json-body' })
