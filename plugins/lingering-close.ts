import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Socket } from 'node:net'
import fp from 'fastify-plugin'

export interface LingeringCloseOptions {
  /** Bytes read and discarded after the answer before the connection is cut. */
  maxBytes?: number
  /** The longest a connection lingers (nginx's `lingering_time`). */
  maxMs?: number
  /** The longest wait for the client's next bytes or its close (nginx's `lingering_timeout`). */
  idleMs?: number
}

const defaultBounds: Required<LingeringCloseOptions> = { maxBytes: 64 * 1024 * 1024, maxMs: 30_000, idleMs: 5_000 }

/**
 * Lets an answer given before the request body was read (a 413) reach a client that writes
 * its whole body before reading. Fastify answers `Connection: close` as soon as the body is
 * over the limit and Node then destroys the socket; closing a socket with unread bytes in
 * its receive buffer sends a RST, and the client, still writing, gets EPIPE or ECONNRESET
 * and loses the answer (RFC 9112 §9.6, "the TCP reset problem").
 *
 * Lingering close, as nginx and Apache do: after the answer, send FIN, read and discard
 * what the client still sends until it closes its side, then destroy the socket. Draining
 * the body and keeping the connection alive was the alternative. We linger because the
 * `Connection: close` Fastify answers with must hold: a chunked body announces no length
 * to drain to, and no request after it may be processed (lingering takes the socket away
 * from the HTTP parser, so none is); and because the clients that write their whole body
 * first, fetch among them, drop the connection after such an answer anyway. Bounded in
 * bytes and time, so that no client can hold a connection or make the server read without end.
 */
export default fp<LingeringCloseOptions>(async (app, options) => {
  const bounds = { ...defaultBounds, ...options }
  const lingering = new Set<Socket>()
  let closing = false

  app.addHook('onSend', (request, reply, payload, done) => {
    if (!closing && !request.raw.complete && hasBody(request.raw)) lingerAfter(request.raw.socket, reply.raw)
    done(null, payload)
  })

  function lingerAfter (socket: Socket, response: ServerResponse): void {
    // Node ends the connection after its last response with destroySoon(): linger instead.
    // The override goes once the response is finished, whether or not Node called it.
    const restore = (): void => { delete (socket as Partial<Socket>).destroySoon }
    socket.destroySoon = () => {
      restore()
      lingerThenDestroy(socket, bounds, lingering)
    }
    response.once('finish', restore)
  }

  // Shutdown does not wait for clients that keep sending.
  app.addHook('preClose', async () => {
    closing = true
    for (const socket of lingering) socket.destroy()
  })
}, { name: 'lingering-close', dependencies: [] })

/**
 * A request without Content-Length or Transfer-Encoding has no body (RFC 9112 §6.3). Such a
 * request answered in the turn its headers arrived is not `complete` yet (Node marks it so
 * after the headers' callback returns): there is nothing of it left to read, no lingering.
 */
function hasBody (request: IncomingMessage): boolean {
  const length = request.headers['content-length']
  return request.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0')
}

function lingerThenDestroy (socket: Socket, bounds: Required<LingeringCloseOptions>, lingering: Set<Socket>): void {
  lingering.add(socket)
  const deadline = setTimeout(() => socket.destroy(), bounds.maxMs)
  socket.once('close', () => {
    clearTimeout(deadline)
    lingering.delete(socket)
  })
  socket.setTimeout(bounds.idleMs, () => socket.destroy())
  socket.end()
  // Node's HTTP server stops reading the socket while nobody takes the body, and starts
  // again on the socket's 'resume' event: pause and resume, and take the socket over in a
  // 'resume' listener of our own, which runs after Node's, when the socket reads again.
  socket.once('resume', () => discardUntilEnd(socket, bounds.maxBytes))
  socket.pause()
  socket.resume()
}

/**
 * Reads and drops what the client sends. Without the HTTP server's listeners the parser sees
 * none of it (Node hands the socket back from the parser once a 'data' listener is added),
 * so none of it becomes a request.
 */
function discardUntilEnd (socket: Socket, maxBytes: number): void {
  socket.removeAllListeners('data')
  socket.removeAllListeners('end')
  let discarded = 0
  socket.on('data', (chunk: Buffer) => {
    discarded += chunk.length
    if (discarded > maxBytes) socket.destroy()
  })
  socket.on('end', () => socket.destroy())
}
