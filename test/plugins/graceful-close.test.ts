import Fastify from 'fastify'
import fp from 'fastify-plugin'
import t from 'tap'
import configPlugin from '../../plugins/config.js'
import errorsPlugin from '../../plugins/errors.js'
import gracefulClosePlugin from '../../plugins/graceful-close.js'
import requestIdPlugin from '../../plugins/request-id.js'
import { serverOptions } from '../../src/server-options.js'
import { testConfig } from '../helper.js'

/** A promise and its resolve (Promise.withResolvers is Node 22). */
function signal (): { promise: Promise<void>, resolve: () => void } {
  let resolve = (): void => {}
  const promise = new Promise<void>((done) => { resolve = done })
  return { promise, resolve }
}

/**
 * A request that reaches the service after its close began (a keep-alive connection the load
 * balancer had not yet dropped) gets the service's own 503: problem+json, its request id,
 * Retry-After and Connection: close, not Fastify's bare JSON.
 */
t.test('a request handled after the close began: problem+json 503 with its request id, Retry-After, Connection: close', async (t) => {
  const config = testConfig()
  const app = Fastify(serverOptions(config))
  t.teardown(async () => { await app.close() })
  const gate = signal()
  const closeBegan = signal()
  await app.register(configPlugin, { config })
  await app.register(requestIdPlugin)
  await app.register(errorsPlugin)
  // Holds the request before graceful-close sees it, until the close has begun: the order of
  // events of a request that arrives during a shutdown, without racing one.
  await app.register(fp(async (gated) => {
    gated.addHook('onRequest', async () => {
      gate.resolve()
      await closeBegan.promise
    })
  }))
  await app.register(gracefulClosePlugin)
  app.addHook('preClose', async () => { closeBegan.resolve() })
  app.get('/work', async () => ({ done: true }))
  await app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = app.server.address() as { port: number }

  const answer = fetch(`http://127.0.0.1:${port}/work`, { headers: { 'x-request-id': 'late-request-1' } })
  await gate.promise
  const closed = app.close()
  const response = await answer
  t.equal(response.status, 503)
  t.equal(response.headers.get('content-type'), 'application/problem+json; charset=utf-8')
  t.equal(response.headers.get('x-request-id'), 'late-request-1')
  t.equal(response.headers.get('retry-after'), '1')
  t.equal(response.headers.get('connection'), 'close')
  t.match(await response.json(), { status: 503, code: 'service_unavailable', detail: 'this instance is shutting down; send the request again', request_id: 'late-request-1' })
  await closed
})
