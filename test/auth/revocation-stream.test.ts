import type { FastifyInstance } from 'fastify'
import { connect } from 'node:net'
import { once } from 'node:events'
import { sql } from 'kysely'
import t, { type Test } from 'tap'
import { asAdmin, registerAdmin } from '../admin/helpers.js'
import { bearer, buildApp, LogCapture, registerAccount, testDatabaseKind, type Account, type BuildOptions } from '../helper.js'
import { EventStreamClient } from './event-stream-client.js'

/**
 * GET /auth/revocations/stream on a real listener (DESIGN "Revocation feed"): the entries as
 * Server-Sent Events, new ones as they are committed, resumption with Last-Event-ID,
 * heartbeats, who may subscribe, and that a subscriber who stops reading costs the server a
 * bounded buffer.
 */
const FAST_ARGON2 = { ARGON2_MEMORY_KIB: '1024', ARGON2_TIME_COST: '1' }

async function listening (t: Test, options: BuildOptions = {}): Promise<{ app: FastifyInstance, url: string, admin: Account } & Awaited<ReturnType<typeof buildApp>>> {
  const built = await buildApp(t, { ...options, env: { ...FAST_ARGON2, ...options.env } })
  const address = await built.app.listen({ port: 0, host: '127.0.0.1' })
  return { ...built, url: `${address}/api/v1/auth/revocations/stream`, admin: await registerAdmin(built.app) }
}

async function subscribe (t: Test, url: string, headers: Record<string, string>): Promise<EventStreamClient> {
  const client = await EventStreamClient.open(url, headers)
  t.teardown(() => { client.close() })
  return client
}

async function logout (app: FastifyInstance, token: string): Promise<void> {
  const response = await app.inject({ method: 'POST', url: '/api/v1/auth/logout', headers: bearer(token) })
  if (response.statusCode !== 204) throw new Error(`logout answered ${response.statusCode}`)
}

function claimsOf (token: string): { sid: string, sub: string } {
  return JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString()) as { sid: string, sub: string }
}

t.test('entries, then new ones as they happen; Last-Event-ID and since resume after an event', async (t) => {
  const { app, url, admin } = await listening(t)
  const alice = await registerAccount(app)
  await logout(app, alice.accessToken)

  const stream = await subscribe(t, url, bearer(admin.accessToken))
  t.equal(stream.response.status, 200)
  t.match(stream.response.headers.get('content-type'), /^text\/event-stream/)
  t.equal(stream.response.headers.get('cache-control'), 'no-store')
  t.ok(stream.response.headers.get('x-request-id'), 'a request id, as on every answer')
  t.same(await stream.next(), { retry: '1000' }, 'first: how long EventSource waits before reconnecting')
  const first = await stream.nextEvent()
  t.match(first, { id: /^\d+$/ })
  t.match(JSON.parse(first?.data ?? ''), { sid: claimsOf(alice.accessToken).sid, sub: alice.id, revoked_at: /^\d{4}-\d\d-\d\dT/ }, 'an entry made before')

  const bob = await registerAccount(app)
  await logout(app, bob.accessToken)
  const second = await stream.nextEvent()
  t.match(JSON.parse(second?.data ?? ''), { sid: claimsOf(bob.accessToken).sid, sub: bob.id }, 'an entry made while subscribed')
  t.ok(BigInt(second?.id ?? 0) > BigInt(first?.id ?? 0), 'ids grow')

  for (const headers of [{ ...bearer(admin.accessToken), 'last-event-id': first?.id ?? '' }]) {
    const resumed = await subscribe(t, url, headers)
    t.same(await resumed.nextEvent(), second, 'Last-Event-ID: what came after it')
  }
  const since = await subscribe(t, `${url}?since=${first?.id ?? ''}`, bearer(admin.accessToken))
  t.same(await since.nextEvent(), second, 'since: the same, for clients that cannot set headers')

  const page = await app.inject({ url: '/api/v1/auth/revocations', headers: bearer(admin.accessToken) })
  t.equal(page.json<{ next_cursor: string }>().next_cursor, second?.id, 'an event\'s id is the page\'s cursor')
})

t.test('who may subscribe, and bad cursors', async (t) => {
  const { app, url, admin } = await listening(t)
  const user = await registerAccount(app)
  const create = async (scopes: string[]): Promise<{ client_id: string, client_secret: string }> =>
    (await asAdmin(app, admin, { method: 'POST', url: '/clients', payload: { name: 'orders', type: 'confidential', grant_types: ['client_credentials'], scopes } })).json()
  const basic = (client: { client_id: string, client_secret: string }): Record<string, string> =>
    ({ authorization: `Basic ${Buffer.from(`${client.client_id}:${client.client_secret}`).toString('base64')}` })
  const feedClient = await create(['revocations:read'])
  const token = await app.inject({ method: 'POST', url: '/api/v1/auth/token', headers: { ...basic(feedClient), 'content-type': 'application/x-www-form-urlencoded' }, payload: 'grant_type=client_credentials&scope=revocations:read' })

  t.equal((await subscribe(t, url, bearer(token.json<{ access_token: string }>().access_token))).response.status, 200, 'a client\'s client_credentials token')
  t.equal((await subscribe(t, url, basic(feedClient))).response.status, 200, 'its credentials')

  const refusals: Array<[string, Record<string, string>, number, RegExp]> = [
    ['no credentials', {}, 401, /"error":"invalid_token"/],
    ['a user without the role admin', bearer(user.accessToken), 403, /"error":"insufficient_scope"/],
    ['a client without the scope', basic(await create([])), 403, /revocations:read/],
    ['a bad Last-Event-ID', { ...bearer(admin.accessToken), 'last-event-id': 'x; drop table' }, 400, /Last-Event-ID is not a cursor/],
    ['a bad since', bearer(admin.accessToken), 400, /since is not a cursor/]
  ]
  for (const [name, headers, status, body] of refusals) {
    const target = name === 'a bad since' ? `${url}?since=-1` : url
    const refused = await subscribe(t, target, headers)
    t.equal(refused.response.status, status, name)
    t.match(await refused.response.text(), body, name)
  }
})

t.test('a heartbeat while nothing happens; the stream ends when the server closes', async (t) => {
  const logs = new LogCapture()
  const { app, url, admin } = await listening(t, { env: { REVOCATION_STREAM_HEARTBEAT_SECONDS: '1' }, logs })
  const stream = await subscribe(t, url, bearer(admin.accessToken))
  t.same(await stream.next(), { retry: '1000' })
  t.same(await stream.next(), { comment: 'heartbeat' }, 'a comment line: keeps proxies from closing it, tells the subscriber the server is there')
  t.equal(app.revocationStreams.size, 1)

  await app.close()
  for (let block = await stream.next(); block !== undefined; block = await stream.next());
  t.pass('closing the server ended the stream instead of waiting for it')
  t.match(logs.records().find((line) => line.event === 'revocation_stream_closed'), { reason: 'server closing' })
})

t.test('a subscriber that leaves is forgotten and logged', async (t) => {
  const logs = new LogCapture()
  const { app, url, admin } = await listening(t, { logs })
  const watchers = app.revocationFeed.watchers
  const stream = await subscribe(t, url, bearer(admin.accessToken))
  await stream.next()
  t.equal(app.revocationFeed.watchers, watchers + 1)
  const metrics = async (): Promise<string> => (await app.inject({ url: '/metrics' })).body
  t.match(await metrics(), /^revocation_stream_subscribers 1$/m, 'the gauge counts it')
  const closed = new Promise<void>((resolve) => {
    const check = (): void => { if (logs.records().some((line) => line.event === 'revocation_stream_closed')) resolve(); else setImmediate(check) }
    check()
  })
  stream.close()
  await closed
  t.equal(app.revocationFeed.watchers, watchers, 'it no longer waits for entries')
  t.equal(app.revocationStreams.size, 0)
  t.match(await metrics(), /^revocation_stream_subscribers 0$/m)
  t.match(logs.records().find((line) => line.event === 'revocation_stream_closed'), { reason: 'subscriber left', sent: 0, level: 30 })
})

t.test('a subscriber that stops reading holds a bounded buffer, and gets everything once it reads again', async (t) => {
  const { app, url, admin } = await listening(t)
  // Enough entries (about 12 MB of events) to overflow the loopback socket's buffers (about 4 MB here) a few times over.
  const count = 80_000
  const user = await registerAccount(app)
  await sql`insert into revocations (sid, sub, revoked_at) select gen_random_uuid(), ${user.id}::uuid, now() from generate_series(1, ${count})`.execute(app.db)
  const last = String((await sql<{ id: string }>`select max(id)::text as id from revocations`.execute(app.db)).rows[0]?.id)

  const { port, pathname } = new URL(url)
  const socket = connect(Number(port), '127.0.0.1')
  t.teardown(() => { socket.destroy() })
  await once(socket, 'connect')
  socket.pause()
  socket.write(`GET ${pathname} HTTP/1.1\r\nhost: 127.0.0.1\r\naccept: text/event-stream\r\nauthorization: Bearer ${admin.accessToken}\r\n\r\n`)

  const turn = async (): Promise<void> => { await new Promise((resolve) => setImmediate(resolve)) }
  while (app.revocationStreams.size === 0) await turn()
  const [opened] = [...app.revocationStreams]
  if (opened === undefined) throw new Error('no stream')
  // Paused: the socket took no more (write returned false), so the pipe stopped asking the stream.
  while (opened.readableFlowing !== false) await turn()
  t.ok(BigInt(opened.cursor) < BigInt(last), `it stopped reading the feed (at ${opened.cursor} of ${last})`)
  t.ok(opened.readableLength < 64 * 1024, `what it holds for the subscriber is bounded (${opened.readableLength} bytes)`)

  const chunks: string[] = []
  socket.setEncoding('utf8')
  await new Promise<void>((resolve) => {
    socket.on('data', (chunk: string) => {
      const tail = `${chunks.at(-1)?.slice(-200) ?? ''}${chunk}`
      chunks.push(chunk)
      if (tail.includes(`id: ${last}\n`)) resolve()
    })
    socket.resume()
  })
  t.equal((chunks.join('').match(/^id: /gm) ?? []).length, count, 'every entry, once the subscriber read again')
})

t.test('a logout on another instance reaches a subscriber of this one', { skip: testDatabaseKind() === 'postgres' ? false : 'one PGlite is one process' }, async (t) => {
  const a = await listening(t)
  const b = await buildApp(t, { env: FAST_ARGON2, database: a.database })
  const alice = await registerAccount(b.app)
  const stream = await subscribe(t, a.url, bearer(a.admin.accessToken))
  await stream.next()
  await logout(b.app, alice.accessToken)
  t.match(JSON.parse((await stream.nextEvent())?.data ?? ''), { sid: claimsOf(alice.accessToken).sid })
})
