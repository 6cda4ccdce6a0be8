import fp from 'fastify-plugin'

/** Echoes the request id (the caller's well-formed X-Request-ID, or a new one) on every response. */
export default fp(async (app) => {
  app.addHook('onRequest', (request, reply, done) => {
    reply.header('x-request-id', request.id)
    done()
  })
}, { name: 'request-id' })
