import fp from 'fastify-plugin'

/**
 * Graceful shutdown, the part Node's http server leaves out: `server.close()` closes idle
 * keep-alive connections once, but a connection busy with a request stays open after its
 * response (for keepAliveTimeout, 72 s), which holds the process past its shutdown deadline.
 * While closing, every response says `Connection: close`, so the client's socket ends with it.
 */
export default fp(async (app) => {
  let closing = false
  app.addHook('preClose', async () => { closing = true })
  app.addHook('onSend', async (_request, reply) => {
    if (closing) reply.header('connection', 'close')
  })
}, { name: 'graceful-close' })
