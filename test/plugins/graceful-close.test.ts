import Fastify from 'fastify'
import { once } from 'node:events'
import { connect } from 'node:net'
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

/**
 * A connection with no request on it yet (a client's spare, as undici opens after an aborted
 * fetch) counts as busy to Node until its headersTimeout, 60 s: the close ends it instead of
 * waiting, while a request in progress on another connection still gets its answer.
 */
t.test('the close ends connections that have sent no request, and lets one with a request finish', { timeout: 30_000 }, async (t) => {
  const config = testConfig()
  const app = Fastify(serverOptions(config))
  const working = signal()
  const finish = signal()
  await app.register(configPlugin, { config })
  await app.register(errorsPlugin)
  await app.register(gracefulClosePlugin)
  app.get('/slow', async () => {
    working.resolve()
    await finish.promise
    return { done: true }
  })
  await app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = app.server.address() as { port: number }

  const spare = connect(port, '127.0.0.1')
  t.teardown(() => { spare.destroy() })
  await once(spare, 'connect')
  const spareClosed = once(spare, 'close')
  const answer = fetch(`http://127.0.0.1:${port}/slow`)
  await working.promise

  const closed = app.close()
  await spareClosed
  t.pass('the spare connection was closed by the close, not by a timeout 60 s later')
  finish.resolve()
  const response = await answer
  t.equal(response.status, 200, 'the request in progress was answered')
  t.same(await response.json(), { done: true })
  await closed
})
