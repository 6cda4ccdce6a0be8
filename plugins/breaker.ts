import type { FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify'
import fp from 'fastify-plugin'
import { DatabaseBreaker } from '../src/db/breaker.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** The circuit breaker every database call goes through (installed on the handle by the db plugin). */
    dbBreaker: DatabaseBreaker
    /**
     * onRequest hook for route plugins whose routes need the database: while the breaker is
     * not closed, answer 503 with Retry-After before any other work (no body parsing, no hashing). A
     * callback, not an async function: every protected request passes it.
     */
    requireDatabase: (request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction) => void
  }
}

export default fp(async (app) => {
  const breaker = new DatabaseBreaker(app.config.breaker, app.log.child({ component: 'db_breaker' }))
  app.decorate('dbBreaker', breaker)
  app.decorate('requireDatabase', function requireDatabase (_request: FastifyRequest, _reply: FastifyReply, done: HookHandlerDoneFunction) {
    done(breaker.state === 'closed' ? undefined : breaker.unavailable())
  })
  app.addHook('onClose', async () => { breaker.shutdown() })
}, { name: 'breaker', dependencies: ['config'] })
