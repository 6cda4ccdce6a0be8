import { Readable } from 'node:stream'
import type { FastifyBaseLogger } from 'fastify'
import { AppError } from '../../errors.js'
import type { FeedEntry, RevocationFeed } from './revocation-feed.js'

/** What a stream reads: the feed's entries, its liveness, its wake-ups. */
export type EntrySource = Pick<RevocationFeed, 'entries' | 'watch' | 'live'>

export interface StreamTiming {
  /** A comment line this often keeps proxies from closing an idle stream and tells the subscriber it is alive. */
  heartbeatMs: number
  /** How often to read the feed while the database's notifications may be missed (`live` false). */
  pollMs: number
  /** When the stream ends by itself, so a subscriber authenticates again (its token's expiry, at the latest). */
  lifetimeMs: number
}

/** What a subscriber's EventSource waits before reconnecting after the stream ends (the `retry:` field). */
export const RECONNECT_MS = 1000

/** Entries read at once; a subscriber far behind catches up a batch at a time, as it reads. */
const BATCH = 100

/**
 * What the stream keeps for a subscriber that does not read: a batch may overshoot it once, no
 * more is read until the socket drains (the memory bound of a slow consumer).
 */
const HIGH_WATER_MARK = 16 * 1024

/** How long a closing server lets a subscriber take the rest of its stream. */
const FINISH_GRACE_MS = 2000

export type StreamEnd = 'subscriber left' | 'server closing' | 'lifetime over' | 'feed unreadable'

/**
 * One subscriber's Server-Sent Events (GET /auth/revocations/stream): a `retry:` field, then
 * every entry after `cursor` as `id: <cursor>` / `data: {"sid","sub","revoked_at"}`, then each
 * new one as it is committed, and a `: heartbeat` comment while nothing happens.
 *
 * Backpressure: it is a Readable that Fastify pipes to the socket, and it reads the feed only
 * when the socket has taken what it was given (`_read`), so a subscriber that stops reading
 * holds at most about HIGH_WATER_MARK here, however many entries come meanwhile; when it reads
 * again it resumes from its cursor in the database.
 */
export class RevocationEventStream extends Readable {
  #cursor: string
  /** The consumer asked for more and has not been given a full buffer since. */
  #wanted = false
  /** Entries may have been added since the last read. */
  #dirty = true
  #reading = false
  #sent = 0
  #end: StreamEnd = 'subscriber left'
  readonly #opened = Date.now()
  readonly #release: Array<() => void> = []

  constructor (private readonly feed: EntrySource, cursor: string, timing: StreamTiming, private readonly log: FastifyBaseLogger) {
    super({ highWaterMark: HIGH_WATER_MARK })
    this.#cursor = cursor
    this.push(`retry: ${RECONNECT_MS}\n\n`)
    this.#release.push(feed.watch(() => { this.#wake() }))
    const heartbeat = setInterval(() => { if (this.#wanted) this.#wanted = this.push(': heartbeat\n\n') }, timing.heartbeatMs)
    const poll = setInterval(() => { if (!feed.live) this.#wake() }, timing.pollMs)
    const expiry = setTimeout(() => { this.finish('lifetime over') }, timing.lifetimeMs)
    this.#release.push(() => { clearInterval(heartbeat); clearInterval(poll); clearTimeout(expiry) })
  }

  /** The position of the last entry sent: what the subscriber resumes from. */
  get cursor (): string {
    return this.#cursor
  }

  /** Ends the stream after what it has sent; the subscriber reconnects (Last-Event-ID) after `retry`. */
  finish (why: StreamEnd): void {
    if (this.destroyed || this.readableEnded) return
    this.#end = why
    this.push(null)
  }

  override _read (): void {
    this.#wanted = true
    void this.#fill()
  }

  override _destroy (error: Error | null, callback: (error?: Error | null) => void): void {
    for (const release of this.#release) release()
    this.log.info({ event: 'revocation_stream_closed', reason: this.#end, sent: this.#sent, cursor: this.#cursor, seconds: Math.round((Date.now() - this.#opened) / 1000) },
      'revocation stream closed')
    callback(error)
  }

  #wake (): void {
    this.#dirty = true
    void this.#fill()
  }

  /** Reads and sends entries while there may be more and the consumer wants them; one read at a time. */
  async #fill (): Promise<void> {
    if (this.#reading) return
    this.#reading = true
    try {
      while (this.#dirty && this.#wanted && !this.destroyed && !this.readableEnded) {
        this.#dirty = false
        const entries = await this.feed.entries(this.#cursor, BATCH)
        if (this.destroyed || this.readableEnded) return
        for (const entry of entries) this.#send(entry)
        if (entries.length === BATCH) this.#dirty = true
      }
    } catch (error) {
      this.log.warn({ event: 'revocation_stream_unreadable', err: error }, 'cannot read the revocation feed: ending the stream (the subscriber reconnects)')
      this.finish('feed unreadable')
    } finally {
      this.#reading = false
    }
  }

  #send ({ cursor, sid, sub, revoked_at: revokedAt }: FeedEntry): void {
    this.#cursor = cursor
    this.#sent++
    this.#wanted = this.push(`id: ${cursor}\ndata: ${JSON.stringify({ sid, sub, revoked_at: revokedAt })}\n\n`)
  }
}

/**
 * How many streams one instance holds open. A resource server needs one per process; the cap
 * bounds what credentials that may read the feed can make an instance hold (a socket, timers,
 * a buffer each) and sends the rest to another instance.
 */
export const MAX_OPEN_STREAMS = 1000

/** This instance's open streams: the server ends them when it closes, so that closing does not wait on them. */
export class RevocationStreams {
  readonly #open = new Set<RevocationEventStream>()

  constructor (
    private readonly feed: EntrySource,
    private readonly timing: Omit<StreamTiming, 'lifetimeMs'>,
    private readonly maxOpen = MAX_OPEN_STREAMS
  ) {}

  /** A new stream from `cursor`; 503 with Retry-After when this instance holds as many as it may. */
  open (cursor: string, lifetimeMs: number, log: FastifyBaseLogger): RevocationEventStream {
    if (this.#open.size >= this.maxOpen) {
      throw new AppError('service_unavailable', `this instance holds ${this.maxOpen} revocation streams, its most; try again later or another instance`, {
        headers: { 'retry-after': String(Math.ceil(RECONNECT_MS / 1000) * 5) }
      })
    }
    const stream = new RevocationEventStream(this.feed, cursor, { ...this.timing, lifetimeMs }, log)
    this.#open.add(stream)
    stream.once('close', () => { this.#open.delete(stream) })
    return stream
  }

  get size (): number {
    return this.#open.size
  }

  [Symbol.iterator] (): IterableIterator<RevocationEventStream> {
    return this.#open.values()
  }

  /**
   * Ends every stream after what it has sent; one whose subscriber does not read what is
   * buffered within FINISH_GRACE_MS is cut, so that it cannot hold the server's close.
   */
  finishAll (): void {
    for (const stream of this.#open) {
      stream.finish('server closing')
      setTimeout(() => { stream.destroy() }, FINISH_GRACE_MS).unref()
    }
  }
}
