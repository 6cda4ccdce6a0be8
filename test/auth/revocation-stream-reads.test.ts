import { once } from 'node:events'
import { pino } from 'pino'
import t from 'tap'
import type { FeedEntry } from '../../src/auth/sessions/revocation-feed.js'
import { RevocationEventStream, RevocationStreams, type EntrySource, type StreamTiming } from '../../src/auth/sessions/revocation-stream.js'
import { LogCapture, onlyOnPGliteRun } from '../helper.js'

/**
 * How a revocation stream reads its feed, against a feed in memory: in batches as the
 * subscriber takes them, on the feed's wake-ups while it is live and by polling while it is
 * not, and when it ends by itself.
 */
class MemoryFeed implements EntrySource {
  readonly rows: FeedEntry[] = []
  readonly reads: string[] = []
  live = true
  failure: Error | undefined
  readonly #watchers = new Set<() => void>()

  add (count: number): void {
    for (let i = 0; i < count; i++) {
      const cursor = String(this.rows.length + 1)
      this.rows.push({ cursor, sid: `sid-${cursor}`, sub: 'someone', revoked_at: new Date(0) })
    }
  }

  announce (): void {
    for (const watcher of this.#watchers) watcher()
  }

  watch (watcher: () => void): () => void {
    this.#watchers.add(watcher)
    return () => { this.#watchers.delete(watcher) }
  }

  async entries (after: string, limit: number): Promise<FeedEntry[]> {
    this.reads.push(after)
    if (this.failure !== undefined) throw this.failure
    return this.rows.filter((row) => Number(row.cursor) > Number(after)).slice(0, limit)
  }

  get watchers (): number {
    return this.#watchers.size
  }
}

const HOUR = 3_600_000
const timing = (overrides: Partial<StreamTiming> = {}): StreamTiming => ({ heartbeatMs: HOUR, pollMs: HOUR, lifetimeMs: HOUR, ...overrides })

/** The stream's events as they come; `events(n)` resolves with the next `n` (the stream stays open). */
function eventsOf (stream: RevocationEventStream): (count: number) => Promise<string[]> {
  const found: string[] = []
  let text = ''
  let wanted: { count: number, resolve: (events: string[]) => void } | undefined
  const settle = (): void => {
    if (wanted !== undefined && found.length >= wanted.count) {
      const { count, resolve } = wanted
      wanted = undefined
      resolve(found.splice(0, count))
    }
  }
  stream.on('data', (chunk: Buffer) => {
    text += chunk.toString()
    const blocks = text.split('\n\n')
    text = blocks.pop() ?? ''
    found.push(...blocks.filter((block) => block.startsWith('id: ')))
    settle()
  })
  return async (count) => new Promise((resolve) => {
    wanted = { count, resolve }
    settle()
  })
}

t.test('a subscriber far behind gets every entry, a batch at a time, in order', { skip: onlyOnPGliteRun }, async (t) => {
  const feed = new MemoryFeed()
  feed.add(250)
  const stream = new RevocationEventStream(feed, '0', timing(), pino({ level: 'silent' }))
  t.teardown(() => { stream.destroy() })
  const received = await eventsOf(stream)(250)
  t.equal(received.length, 250)
  t.equal(received[0], 'id: 1\ndata: {"sid":"sid-1","sub":"someone","revoked_at":"1970-01-01T00:00:00.000Z"}')
  t.match(received[249], /^id: 250\n/)
  t.same(feed.reads.slice(0, 3), ['0', '100', '200'], 'batches of 100, each from where the last ended')
})

t.test('while the feed is not live (notifications may be missed), the stream polls it', { skip: onlyOnPGliteRun }, async (t) => {
  const feed = new MemoryFeed()
  feed.live = false
  const stream = new RevocationEventStream(feed, '0', timing({ pollMs: 5 }), pino({ level: 'silent' }))
  t.teardown(() => { stream.destroy() })
  const first = eventsOf(stream)(1)
  feed.add(1) // no announce: only a poll finds it
  t.match(await first, ['id: 1\n'])
})

t.test('while live it reads on the feed\'s wake-ups, resuming after the last entry sent', { skip: onlyOnPGliteRun }, async (t) => {
  const feed = new MemoryFeed()
  feed.add(2)
  const stream = new RevocationEventStream(feed, '1', timing(), pino({ level: 'silent' }))
  t.teardown(() => { stream.destroy() })
  const events = eventsOf(stream)
  t.match(await events(1), ['id: 2\n'], 'after the cursor it was opened with')
  t.equal(stream.cursor, '2')
  const next = events(1)
  feed.add(1)
  feed.announce()
  t.match(await next, ['id: 3\n'])
  t.same(feed.reads.at(-1), '2')
})

t.test('the stream ends by itself when its lifetime is over, and says why', { skip: onlyOnPGliteRun }, async (t) => {
  const feed = new MemoryFeed()
  const logs = new LogCapture()
  const stream = new RevocationEventStream(feed, '0', timing({ lifetimeMs: 10 }), pino(logs))
  t.equal(feed.watchers, 1)
  let text = ''
  for await (const chunk of stream) text += String(chunk)
  t.equal(text, 'retry: 1000\n\n', 'the reconnection delay, then the end')
  t.equal(feed.watchers, 0, 'it no longer waits for entries')
  t.match(logs.records(), [{ event: 'revocation_stream_closed', reason: 'lifetime over', sent: 0 }])
})

t.test('a feed it cannot read ends the stream (the subscriber reconnects) with a warning', { skip: onlyOnPGliteRun }, async (t) => {
  const feed = new MemoryFeed()
  feed.failure = new Error('database unavailable')
  const logs = new LogCapture()
  const stream = new RevocationEventStream(feed, '7', timing(), pino(logs))
  let text = ''
  for await (const chunk of stream) text += String(chunk)
  t.equal(text, 'retry: 1000\n\n')
  t.match(logs.records(), [
    { level: 40, event: 'revocation_stream_unreadable', err: { message: 'database unavailable' } },
    { event: 'revocation_stream_closed', reason: 'feed unreadable', cursor: '7' }
  ])
})

t.test('a heartbeat comment while nothing comes', { skip: onlyOnPGliteRun }, async (t) => {
  const feed = new MemoryFeed()
  const stream = new RevocationEventStream(feed, '0', timing({ heartbeatMs: 1 }), pino({ level: 'silent' }))
  t.teardown(() => { stream.destroy() })
  let text = ''
  for await (const chunk of stream) {
    text += String(chunk)
    if (text.includes(': heartbeat\n\n')) break
  }
  t.equal(text.slice(0, 26), 'retry: 1000\n\n: heartbeat\n\n')
})

t.test('an instance holds at most so many streams: past them, 503 with Retry-After, until one closes', { skip: onlyOnPGliteRun }, async (t) => {
  const streams = new RevocationStreams(new MemoryFeed(), { heartbeatMs: HOUR, pollMs: HOUR }, 2)
  const log = pino({ level: 'silent' })
  const first = streams.open('0', HOUR, log)
  streams.open('0', HOUR, log)
  t.throws(() => streams.open('0', HOUR, log), { code: 'service_unavailable', status: 503, headers: { 'retry-after': '5' }, message: /holds 2 revocation streams, its most/ })
  const closed = once(first, 'close')
  first.destroy()
  await closed
  t.equal(streams.size, 1)
  const third = streams.open('0', HOUR, log)
  t.equal(streams.size, 2)
  streams.finishAll()
  third.resume()
  await once(third, 'close')
  t.equal(streams.size, 1, 'finishAll ended the one that was read; the other goes once its reader takes the end (or after the grace)')
})
