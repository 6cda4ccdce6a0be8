import fp from 'fastify-plugin'
import { AppError } from '../src/errors.js'

/**
 * Graceful shutdown, the part Node's http server leaves out: `server.close()` closes idle
 * keep-alive connections once, but a connection busy with a request stays open after its
 * response (for keepAliveTimeout, 72 s), which holds the process past its shutdown deadline.
 * While closing, every response says `Connection: close`, so the client's socket ends with it.
 *
 * A request that arrives on such a connection after the close began is refused here rather
 * than by Fastify (`return503OnClosing: false`), so it gets the same problem+json answer, with
 * its request id and `Retry-After`, as every other 503.
 */
export default fp(async (app) => {
  let closing = false
  app.addHook('preClose', async () => { closing = true })
  app.addHook('onRequest', async () => {
    if (closing) {
      throw new AppError('service_unavailable', 'this instance is shutting down; send the request again', { headers: { 'retry-after': '1' } })
    }
  })
  app.addHook('onSend', async (_request, reply) => {
    if (closing) reply.header('connection', 'close')
  })
}, { name: 'graceful-close', dependencies: ['errors'] })
