import { execFile } from 'node:child_process'
import { once } from 'node:events'
import type { IncomingMessage } from 'node:http'
import { connect, type Socket } from 'node:net'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import Fastify, { type FastifyInstance } from 'fastify'
import t, { type Test } from 'tap'
import lingeringClose, { type LingeringCloseOptions } from '../../plugins/lingering-close.js'
import { buildApp, childEnv } from '../helper.js'
import type { Outcome } from './oversized-fetch-client.js'

/**
 * A client that writes its whole oversized body before it reads gets the 413, not EPIPE or
 * ECONNRESET, and the connection ends after it. Real listeners and real clients: the answer
 * is lost in the kernel, where inject() never goes.
 */

const MiB = 1024 * 1024
/** Far more than loopback socket buffers hold: the client is still writing when the 413 comes. */
const OVERSIZED = 16 * MiB
const ROUNDS = 15
const REGISTER = '/api/v1/auth/register'
const TOKEN = '/api/v1/auth/token'

const { app } = await buildApp(t)
await app.listen({ port: 0, host: '127.0.0.1' })
const { port } = app.server.address() as { port: number }

/** Runs ROUNDS oversized POSTs with fetch in a client process of its own. */
async function fetchRounds (path: string, contentType: string, chunked: boolean): Promise<Outcome[]> {
  const job = { url: `http://127.0.0.1:${port}${path}`, contentType, bytes: OVERSIZED, chunked, rounds: ROUNDS }
  const client = fileURLToPath(new URL('oversized-fetch-client.ts', import.meta.url))
  const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', client, JSON.stringify(job)], { env: childEnv() })
  return JSON.parse(stdout) as Outcome[]
}

/** The two kinds of 413: problem+json, and on the OAuth endpoints an RFC 6749 error. */
const endpoints = [
  {
    path: REGISTER,
    contentType: 'application/json',
    answer: { status: 413, contentType: /^application\/problem\+json/, connection: 'close', body: { status: 413, code: 'payload_too_large' } }
  },
  {
    path: TOKEN,
    contentType: 'application/x-www-form-urlencoded',
    answer: { status: 413, contentType: /^application\/json/, connection: 'close', body: { error: 'invalid_request', error_description: /larger than the limit/ } }
  }
]

for (const { path, contentType, answer } of endpoints) {
  for (const chunked of [false, true]) {
    t.test(`fetch with a ${OVERSIZED / MiB} MiB ${chunked ? 'chunked' : 'Content-Length'} body on ${path} gets the 413, every time`, async (t) => {
      const outcomes = await fetchRounds(path, contentType, chunked)
      t.equal(outcomes.length, ROUNDS)
      t.same(outcomes.filter((outcome) => outcome.error !== undefined), [], `none of ${ROUNDS} rounds failed`)
      for (const outcome of outcomes.filter((outcome) => outcome.error === undefined)) t.match(outcome, answer)
    })
  }
}

interface Exchange {
  /** Everything the server sent, as text. */
  response: string
  /** The server ended the connection (FIN), rather than it failing. */
  ended: boolean
  error?: string
}

async function connected (options: { allowHalfOpen?: boolean } = {}, to = port): Promise<Socket> {
  const socket = connect({ port: to, host: '127.0.0.1', ...options })
  await once(socket, 'connect')
  return socket
}

/** Follows a socket until it closes: what it received, whether the server ended it, the first error. */
function exchange (socket: Socket): Promise<Exchange> {
  const received: Buffer[] = []
  const result: Exchange = { response: '', ended: false }
  socket.on('data', (chunk: Buffer) => received.push(chunk))
  socket.on('end', () => { result.ended = true })
  socket.on('error', (error: NodeJS.ErrnoException) => { result.error ??= error.code ?? error.message })
  return new Promise((resolve) => socket.once('close', () => {
    result.response = Buffer.concat(received).toString('latin1')
    resolve(result)
  }))
}

/**
 * Writes the whole request without reading anything (the socket stays paused until its last
 * byte is with the kernel), then reads until the connection closes.
 */
async function writeAllThenRead (request: Buffer[]): Promise<Exchange> {
  const socket = await connected()
  socket.pause()
  const done = exchange(socket)
  for (const part of request) socket.write(part)
  await Promise.race([new Promise<void>((resolve) => socket.end(() => resolve())), done])
  socket.resume()
  return done
}

function head (path: string, framing: string): Buffer {
  return Buffer.from(`POST ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n${framing}\r\n\r\n`)
}

const rawRequests: Record<string, (body: Buffer) => Buffer[]> = {
  'Content-Length': (body) => [head(REGISTER, `Content-Length: ${body.length}`), body],
  chunked: (body) => [head(REGISTER, 'Transfer-Encoding: chunked'), Buffer.from(`${body.length.toString(16)}\r\n`), body, Buffer.from('\r\n0\r\n\r\n')]
}

for (const [framing, request] of Object.entries(rawRequests)) {
  t.test(`a raw client that writes a ${OVERSIZED / MiB} MiB ${framing} body before reading gets the 413, then the end of the connection`, async (t) => {
    const body = Buffer.alloc(OVERSIZED, 'a')
    const failures: string[] = []
    for (let round = 0; round < ROUNDS; round += 1) {
      const { response, ended, error } = await writeAllThenRead(request(body))
      if (error !== undefined || !ended || !response.startsWith('HTTP/1.1 413 ')) {
        failures.push(`round ${round}: ${error ?? (ended ? '' : 'not ended')} ${JSON.stringify(response.slice(0, 20))}`)
        continue
      }
      t.match(response, /\r\nconnection: close\r\n/i)
      t.match(response, /\r\ncontent-type: application\/problem\+json/i)
      t.match(response, /"code":"payload_too_large"/)
    }
    t.same(failures, [], `all ${ROUNDS} rounds got the 413 and the server's end of the connection`)
  })
}

t.test('a request pipelined after an oversized body is not processed: the connection is closing', async (t) => {
  const seen: string[] = []
  const onRequest = (request: IncomingMessage): void => { seen.push(`${request.method} ${request.url}`) }
  app.server.on('request', onRequest)
  t.teardown(() => { app.server.off('request', onRequest) })
  const serverClosed = once(app.server, 'connection').then(([socket]: Socket[]) => once(socket!, 'close'))
  const pipelined = JSON.stringify({ email: 'pipelined@example.com', username: 'pipelined', password: 'correct horse battery' })
  const { response, ended, error } = await writeAllThenRead([
    ...rawRequests['Content-Length']!(Buffer.alloc(2 * MiB, 'a')),
    head(REGISTER, `Content-Length: ${pipelined.length}`),
    Buffer.from(pipelined)
  ])
  await serverClosed
  t.equal(error, undefined)
  t.ok(ended, 'the server ended the connection')
  t.match(response, /^HTTP\/1\.1 413 /)
  t.equal(response.match(/HTTP\/1\.1 /g)?.length, 1, 'one answer, the 413')
  t.same(seen, [`POST ${REGISTER}`], 'the app saw the oversized request, not the one after it')
})

interface BoundedServer { server: FastifyInstance, port: number, closed: Promise<Socket> }

/** A bare server with the plugin and a 1 KiB body limit; `closed` resolves when it has closed its first connection. */
async function boundedServer (t: Test, bounds: LingeringCloseOptions, setUp?: (server: FastifyInstance) => void): Promise<BoundedServer> {
  const server = Fastify({ bodyLimit: 1024 })
  t.teardown(() => server.close())
  await server.register(lingeringClose, bounds)
  server.post('/', async () => ({ ok: true }))
  setUp?.(server)
  await server.listen({ port: 0, host: '127.0.0.1' })
  const closed = once(server.server, 'connection').then(async ([socket]: Socket[]) => {
    await once(socket!, 'close')
    return socket!
  })
  return { server, port: (server.server.address() as { port: number }).port, closed }
}

/**
 * Announces an endless chunked body and writes it as fast as the server takes it, ignoring
 * the answer and the server's end of the connection, until the connection fails.
 */
async function sendForever (to: number): Promise<Exchange> {
  const socket = await connected({ allowHalfOpen: true }, to)
  const closed = exchange(socket)
  let open = true
  void closed.then(() => { open = false })
  const chunk = Buffer.from(`10000\r\n${'a'.repeat(0x10000)}\r\n`)
  socket.write(head('/', 'Transfer-Encoding: chunked'))
  while (open) {
    if (!socket.write(chunk)) await Promise.race([once(socket, 'drain').catch(() => undefined), closed])
  }
  return closed
}

/** Announces more than the limit, sends part of it, then neither sends nor closes. */
async function sendSomeThenWait (to: number): Promise<{ socket: Socket, done: Promise<Exchange> }> {
  const socket = await connected({ allowHalfOpen: true }, to)
  const done = exchange(socket)
  socket.write(Buffer.concat([head('/', 'Content-Length: 4096'), Buffer.alloc(2048, 'a')]))
  return { socket, done }
}

/** Far beyond any test: a bound that must not be what ends the connection. */
const FOREVER = 10 * 60_000
/** Only for when a bound does not hold: the test fails instead of hanging (tap changes the object: one per test). */
const guard = (): { timeout: number } => ({ timeout: 60_000 })

t.test('a client that keeps sending after the 413 is disconnected once the server has discarded maxBytes', guard(), async (t) => {
  const { port: to, closed } = await boundedServer(t, { maxBytes: MiB, maxMs: FOREVER, idleMs: FOREVER })
  const [serverSide, { error }] = await Promise.all([closed, sendForever(to)])
  t.ok(serverSide.bytesRead > MiB, `the server read more than maxBytes (${serverSide.bytesRead})`)
  t.ok(serverSide.bytesRead < 4 * MiB, 'but not much more')
  t.match(error, /^(EPIPE|ECONNRESET)$/, 'then cut the connection')
})

t.test('a client that keeps sending after the 413 is disconnected after maxMs', guard(), async (t) => {
  const { port: to, closed } = await boundedServer(t, { maxBytes: Infinity, maxMs: 200, idleMs: FOREVER })
  const [, { error }] = await Promise.all([closed, sendForever(to)])
  t.match(error, /^(EPIPE|ECONNRESET)$/, 'the server cut the connection')
})

t.test('a client that neither sends nor closes after the 413 is disconnected after idleMs', guard(), async (t) => {
  const { port: to, closed } = await boundedServer(t, { maxBytes: Infinity, maxMs: FOREVER, idleMs: 200 })
  const { socket, done } = await sendSomeThenWait(to)
  await closed
  socket.end()
  const { response, ended, error } = await done
  t.match(response, /^HTTP\/1\.1 413 /)
  t.ok(ended, 'the client got the 413 and the end of the connection')
  t.equal(error, undefined)
})

t.test('closing the server ends lingering connections at once', guard(), async (t) => {
  const { server, port: to, closed } = await boundedServer(t, { maxMs: FOREVER, idleMs: FOREVER })
  const { socket, done } = await sendSomeThenWait(to)
  await once(socket, 'end')
  await server.close()
  await closed
  socket.end()
  t.match((await done).response, /^HTTP\/1\.1 413 /)
})

t.test('an answer given while the server closes does not linger: shutdown does not wait for it', guard(), async (t) => {
  // The oversized request waits until the server is closing, then gets its 413.
  let closing: () => void = () => undefined
  const serverClosing = new Promise<void>((resolve) => { closing = resolve })
  const { server, port: to, closed } = await boundedServer(t, { maxMs: FOREVER, idleMs: FOREVER }, (server) => {
    server.addHook('onRequest', async () => serverClosing)
    server.addHook('preClose', async () => closing())
  })
  const accepted = once(server.server, 'request')
  const { socket, done } = await sendSomeThenWait(to)
  await accepted
  await server.close()
  await closed
  socket.end()
  t.match((await done).response, /^HTTP\/1\.1 413 /)
})

t.test('a request without a body, answered at once with Connection: close, is not lingered on', guard(), async (t) => {
  // The answer goes out in the turn the headers arrived, before Node marks the request
  // complete: with nothing left to read, the server closes its side without waiting for the client's.
  const { port: to, closed } = await boundedServer(t, { maxMs: FOREVER, idleMs: FOREVER }, (server) => {
    server.get('/now', (_request, reply) => { reply.send({ ok: true }) })
  })
  const socket = await connected({ allowHalfOpen: true }, to)
  const received: Buffer[] = []
  socket.on('data', (chunk: Buffer) => received.push(chunk))
  socket.write('GET /now HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n')
  const [serverSide] = await Promise.all([closed, once(socket, 'end')])
  t.ok(serverSide.destroyed, 'the server closed the connection while the client kept its side open')
  t.match(Buffer.concat(received).toString('latin1'), /^HTTP\/1\.1 200 /)
  socket.destroy()
})
