import { once } from 'node:events'
import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http'
import pino from 'pino'
import t, { type Test } from 'tap'
import { eventStreamBlocks } from '../../examples/orders-service/event-stream.js'
import { RevocationFeedFollower } from '../../examples/orders-service/revocation-feed.js'
import { RevocationList, type RevocationEntry } from '../../examples/orders-service/revocation-list.js'
import { onlyOnPGliteRun } from '../helper.js'

/**
 * examples/orders-service's revocation feed follower against a stand-in user-service on
 * loopback, where the test decides what the stream and the page endpoint answer: resuming with
 * Last-Event-ID, falling back to pages, a silent connection, an unreachable or refusing server.
 * The real user-service is in orders-service.test.ts.
 */
type StreamAnswer = 'events' | 'silent' | { status: number }

class StandInFeed {
  readonly entries: Array<RevocationEntry & { id: string }> = []
  readonly streamRequests: IncomingHttpHeaders[] = []
  readonly pageRequests: URLSearchParams[] = []
  streamAnswer: StreamAnswer = 'events'
  pageStatus = 200
  readonly #open = new Set<ServerResponse>()
  readonly #server = createServer((request, response) => {
    const url = new URL(request.url ?? '/', 'http://stand-in')
    if (url.pathname === '/api/v1/auth/revocations/stream') this.#stream(request.headers, response)
    else if (url.pathname === '/api/v1/auth/revocations') this.#page(url.searchParams, response)
    else response.writeHead(404).end()
  })

  url = ''

  async listen (t: Test): Promise<void> {
    this.#server.listen(0, '127.0.0.1')
    await once(this.#server, 'listening')
    this.url = `http://127.0.0.1:${(this.#server.address() as { port: number }).port}`
    t.teardown(() => { this.stop() })
  }

  stop (): void {
    this.#server.closeAllConnections()
    this.#server.close()
  }

  add (sid: string | null, sub: string, revokedAt = new Date()): void {
    const entry = { id: String(this.entries.length + 1), sid, sub, revoked_at: revokedAt.toISOString() }
    this.entries.push(entry)
    for (const response of this.#open) response.write(event(entry))
  }

  /** Cuts every open stream, as a network failure would. */
  cut (): void {
    for (const response of this.#open) response.socket?.destroy()
  }

  #stream (headers: IncomingHttpHeaders, response: ServerResponse): void {
    this.streamRequests.push(headers)
    const answer = this.streamAnswer
    if (typeof answer === 'object') {
      response.writeHead(answer.status, { 'content-type': 'application/json' }).end('{"error":"no"}')
      return
    }
    response.writeHead(200, { 'content-type': 'text/event-stream' })
    if (answer === 'silent') {
      response.flushHeaders()
      return
    }
    response.write('retry: 20\n\n')
    const after = Number(headers['last-event-id'] ?? 0)
    for (const entry of this.entries.filter((candidate) => Number(candidate.id) > after)) response.write(event(entry))
    this.#open.add(response)
    response.on('close', () => { this.#open.delete(response) })
  }

  #page (query: URLSearchParams, response: ServerResponse): void {
    this.pageRequests.push(query)
    const after = Number(query.get('since') ?? 0)
    const items = this.entries.filter((entry) => Number(entry.id) > after).slice(0, Number(query.get('limit')))
    const body = { items: items.map(({ id: _id, ...entry }) => entry), next_cursor: items.at(-1)?.id ?? String(after) }
    response.writeHead(this.pageStatus, { 'content-type': 'application/json' }).end(JSON.stringify(body))
  }
}

function event (entry: RevocationEntry & { id: string }): string {
  const { id, ...data } = entry
  return `id: ${id}\r\ndata: ${JSON.stringify(data)}\r\n\r\n`
}

/** A logger whose lines the test can read. */
function capturedLog (): { log: pino.Logger, lines: () => Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = []
  const log = pino({ level: 'debug' }, { write: (line: string) => { lines.push(JSON.parse(line) as Record<string, unknown>) } })
  return { log, lines: () => lines }
}

async function until (what: string, condition: () => boolean): Promise<void> {
  // A deadline for a stuck test, not a measurement: the condition is looked at every 10 ms.
  for (const deadline = Date.now() + 30_000; !condition();) {
    if (Date.now() > deadline) throw new Error(`never: ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}

async function following (t: Test, feed: StandInFeed, options: { idleTimeoutMs?: number, pollIntervalMs?: number } = {}) {
  const list = new RevocationList(15 * 60_000)
  const { log, lines } = capturedLog()
  const follower = new RevocationFeedFollower(list, {
    userServiceUrl: feed.url, authorization: 'Basic b3JkZXJzOnNlY3JldA==', pollIntervalMs: options.pollIntervalMs ?? 50, idleTimeoutMs: options.idleTimeoutMs ?? 30_000, log
  })
  follower.start()
  t.teardown(async () => follower.close())
  return { list, follower, lines }
}

const ALICE = '0193a8f0-0000-7000-8000-00000000000a'
const BOB = '0193a8f0-0000-7000-8000-00000000000b'
const SESSION = (n: number): string => `0193a8f0-0000-7000-8000-${String(n).padStart(12, '0')}`

t.test('the follower', { skip: onlyOnPGliteRun }, async (t) => {
  t.test('catches up by pages, takes what the stream sends, and resumes after the last event when cut', async (t) => {
    const feed = new StandInFeed()
    await feed.listen(t)
    feed.add(SESSION(1), ALICE)
    const { list, follower, lines } = await following(t, feed)
    await until('live', () => follower.live)
    t.not(list.refusal({ sub: ALICE, sid: SESSION(1) }), undefined, 'the entry made before it started')
    t.equal(feed.streamRequests[0]?.authorization, 'Basic b3JkZXJzOnNlY3JldA==', 'as the client')
    t.equal(feed.pageRequests[0]?.get('since'), null, 'the first catch-up starts from the oldest entry')
    t.equal(feed.streamRequests[0]?.['last-event-id'], '1', 'and the stream after what the pages had')
    t.equal(list.refusal({ sub: ALICE, sid: SESSION(2) }), undefined, 'another session of the same account')

    feed.add(SESSION(2), ALICE)
    await until('a new entry, pushed', () => list.refusal({ sub: ALICE, sid: SESSION(2) }) !== undefined)
    feed.cut()
    feed.add(SESSION(3), BOB)
    await until('the entry made while cut', () => list.refusal({ sub: BOB, sid: SESSION(3) }) !== undefined)
    t.equal(feed.pageRequests[1]?.get('since'), '2', 'resumed after the last event it had')
    await until('the stream again', () => follower.live && feed.streamRequests.length === 2)
    t.equal(feed.streamRequests[1]?.['last-event-id'], '3', 'the stream after the pages')
    t.same(follower.status, { state: 'live', entries: 3, cursor: '3' })
    t.ok(lines().some((line) => line.msg === 'revocation stream connected' && line.lastEventId === '3'), 'the resumption is logged')
  })

  t.test('falls back to the page endpoint while the stream is refused, and goes back to the stream', async (t) => {
    const feed = new StandInFeed()
    await feed.listen(t)
    feed.streamAnswer = { status: 503 }
    for (let n = 1; n <= 450; n += 1) feed.add(SESSION(n), ALICE)
    const { list, follower, lines } = await following(t, feed)
    await until('polling', () => follower.status.state === 'polling')
    t.equal(list.size, 450, 'all pages, not only the first')
    t.equal(follower.live, false, 'not live: a write would be introspected')
    t.same(feed.pageRequests.slice(0, 3).map((query) => query.get('since')), [null, '200', '400'])
    t.ok(lines().some((line) => line.level === 40 && /polling the page endpoint/.test(String(line.msg))))

    feed.add(SESSION(451), BOB)
    await until('the next poll', () => list.size === 451)
    feed.streamAnswer = 'events'
    await until('live again', () => follower.live)
    t.equal(feed.streamRequests.at(-1)?.['last-event-id'], '451', 'the stream resumes where the pages ended')
  })

  t.test('a connection that sends nothing for the idle timeout is opened again', async (t) => {
    const feed = new StandInFeed()
    await feed.listen(t)
    feed.streamAnswer = 'silent'
    const { follower } = await following(t, feed, { idleTimeoutMs: 100 })
    await until('a second connection', () => feed.streamRequests.length >= 2)
    feed.streamAnswer = 'events'
    await until('live', () => follower.live)
  })

  t.test('an unreachable or refusing user-service: the state and the reason are logged once, and it keeps trying', async (t) => {
    const feed = new StandInFeed()
    await feed.listen(t)
    feed.streamAnswer = { status: 403 }
    feed.pageStatus = 403
    const { follower, lines } = await following(t, feed)
    await until('unreachable', () => follower.status.state === 'unreachable')
    await until('a retry', () => feed.pageRequests.length >= 2)
    const warnings = lines().filter((line) => line.revocations === 'unreachable')
    t.equal(warnings.length, 1, 'logged at the change, not at every attempt')
    t.match(warnings[0], { level: 40, reason: /answered 403 to the revocation page \(orders-service's client needs the scope revocations:read\)/ })

    feed.stop()
    feed.streamAnswer = 'events'
    await until('more attempts on a stopped server', () => lines().some((line) => line.msg === 'revocation feed page failed' && line.reason === 'ECONNREFUSED'))
    t.equal(follower.live, false)
  })
})

t.test('the revocation list', { skip: onlyOnPGliteRun }, async (t) => {
  const list = new RevocationList(60_000)
  const disabledAt = new Date('2026-12-03T10:00:00.500Z')
  list.add({ sid: null, sub: BOB, revoked_at: disabledAt.toISOString() })
  list.add({ sid: SESSION(1), sub: ALICE, revoked_at: '2026-12-03T10:00:30.000Z' })
  const second = (iso: string): number => Math.floor(Date.parse(iso) / 1000)
  t.equal(list.refusal({ sub: BOB, sid: SESSION(9), iat: second('2026-12-03T09:59:00Z') }), 'the account was disabled or deleted')
  t.equal(list.refusal({ sub: BOB, sid: SESSION(9), iat: second('2026-12-03T10:00:00Z') }), 'the account was disabled or deleted', 'the same second')
  t.equal(list.refusal({ sub: BOB, sid: SESSION(9), iat: second('2026-12-03T10:00:01Z') }), undefined, 'issued after it was enabled again')
  t.equal(list.refusal({ sub: ALICE, sid: SESSION(1), iat: second('2026-12-03T10:00:40Z') }), 'the session has ended')
  t.throws(() => { list.add({ sid: null, sub: ALICE, revoked_at: 'yesterday' }) }, /not a date/)

  list.prune(disabledAt.getTime() + 59_999)
  t.equal(list.size, 2, 'kept for the token lifetime')
  list.prune(disabledAt.getTime() + 60_000)
  t.equal(list.size, 1, 'the account entry is past it')
  list.prune(Date.parse('2026-12-03T10:01:30.000Z'))
  t.equal(list.size, 0)
})

t.test('the event stream reader', { skip: onlyOnPGliteRun }, async (t) => {
  async function * chunks (...parts: string[]): AsyncGenerator<Uint8Array> {
    for (const part of parts) yield new TextEncoder().encode(part)
  }
  const blocks = []
  for await (const block of eventStreamBlocks(chunks('retry: 10', '00\n\n: heart', 'beat\n\nid: 1\r', '\ndata: a\rdata: b\r\r', 'id\nevent:x\nunknown: y\ndata\n\n', 'id: 9\n'))) blocks.push(block)
  t.same(blocks, [
    { retry: '1000' },
    { comment: 'heartbeat' },
    { id: '1', data: 'a\nb' },
    { id: '', event: 'x', data: '' }
  ], 'split across chunks, CRLF, CR, multi-line data, fields without a value; an unfinished block is not an event')
})
