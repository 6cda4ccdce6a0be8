import type { Socket } from 'node:net'
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
 *
 * A connection that has not sent a whole request's headers yet counts as busy to Node until
 * its headersTimeout (60 s), so `server.close()` would wait that long for it: clients open
 * such spare connections ahead of need (undici does after an aborted fetch). They are closed
 * with the idle ones.
 */
export default fp(async (app) => {
  let closing = false
  const sockets = new Set<HttpSocket>()
  app.server.on('connection', (socket: HttpSocket) => {
    sockets.add(socket)
    socket.once('close', () => sockets.delete(socket))
  })
  app.addHook('preClose', async () => {
    closing = true
    for (const socket of sockets) {
      if (!hasRequest(socket)) socket.destroy()
    }
  })
  // Callback hooks: every request passes them, and an async function costs a promise each.
  app.addHook('onRequest', (_request, _reply, done) => {
    if (!closing) return done()
    done(new AppError('service_unavailable', 'this instance is shutting down; send the request again', { headers: { 'retry-after': '1' } }))
  })
  app.addHook('onSend', (_request, reply, payload, done) => {
    if (closing) reply.header('connection', 'close')
    done(null, payload)
  })
}, { name: 'graceful-close', dependencies: ['errors'] })

/** Node's socket, with the response in progress on it: null or absent until a request's headers are in. */
type HttpSocket = Socket & { _httpMessage?: unknown }

function hasRequest (socket: HttpSocket): boolean {
  return (socket._httpMessage ?? null) !== null
}
