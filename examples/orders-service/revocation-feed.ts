/**
 * Follows user-service's revocation feed into a RevocationList, as orders-service's own
 * confidential client (it needs the scope `revocations:read`):
 *
 * - Each connection starts with `GET /api/v1/auth/revocations?since=<cursor>`, page after
 *   page until caught up, then opens `GET /api/v1/auth/revocations/stream` (Server-Sent
 *   Events) with `Last-Event-ID: <cursor>`: from then on each entry arrives within
 *   milliseconds of the commit that made it, and nothing committed in between is missed.
 * - When the stream cannot be had (refused, cut, no byte for `idleTimeoutMs`, heartbeats
 *   included), the pages are read every `pollIntervalMs`, trying the stream again each time;
 *   while user-service cannot be reached at all, with a backoff up to 30 s.
 *
 * `live` is true only while the stream is connected: then the list is at most a notification
 * behind user-service, and a write needs no introspection call.
 */
import type { FastifyBaseLogger } from 'fastify'
import { eventStreamBlocks } from './event-stream.js'
import type { RevocationEntry, RevocationList } from './revocation-list.js'

export type FeedState = 'connecting' | 'live' | 'polling' | 'unreachable'

export interface FeedOptions {
  userServiceUrl: string
  /** `Basic …` of orders-service's client. */
  authorization: string
  pollIntervalMs: number
  idleTimeoutMs: number
  log: FastifyBaseLogger
}

/** The longest wait between two attempts while user-service cannot be reached at all. */
const MAX_BACKOFF_MS = 30_000
/** What one page request may take, body included. */
const PAGE_TIMEOUT_MS = 10_000
const PAGE_SIZE = 200
const PRUNE_INTERVAL_MS = 60_000

/** user-service answered, but not with the feed (no scope, too many streams, an error). */
class FeedRefused extends Error {
  constructor (readonly status: number, what: string) {
    const hint = status === 401 || status === 403 ? ` (orders-service's client needs the scope ${REVOCATIONS_SCOPE})` : ''
    super(`user-service answered ${status} to ${what}${hint}`)
  }
}

const REVOCATIONS_SCOPE = 'revocations:read'

export class RevocationFeedFollower {
  #state: FeedState = 'connecting'
  #cursor: string | undefined
  #failures = 0
  /** What user-service's `retry:` field asks a subscriber to wait before reconnecting. */
  #retryMs = 1000
  readonly #closing = new AbortController()
  #running: Promise<void> | undefined
  #pruning: NodeJS.Timeout | undefined

  constructor (private readonly list: RevocationList, private readonly options: FeedOptions) {}

  get live (): boolean {
    return this.#state === 'live'
  }

  /** What /health shows. */
  get status (): { state: FeedState, entries: number, cursor: string | null } {
    return { state: this.#state, entries: this.list.size, cursor: this.#cursor ?? null }
  }

  start (): void {
    this.#running = this.#run()
    this.#pruning = setInterval(() => { this.list.prune() }, PRUNE_INTERVAL_MS).unref()
  }

  async close (): Promise<void> {
    clearInterval(this.#pruning)
    this.#closing.abort()
    await this.#running
  }

  async #run (): Promise<void> {
    while (!this.#closing.signal.aborted) await wait(await this.#round(), this.#closing.signal)
  }

  /**
   * Catches up by pages, then follows the stream until it ends. Resolves with how long to wait
   * before the next round. The pages first: once the stream answers, the list holds every
   * entry up to that moment, which is what `live` promises (the stream's own backlog after
   * Last-Event-ID is then only what was committed between the two requests).
   */
  async #round (): Promise<number> {
    try {
      await this.#catchUp()
    } catch (error) {
      if (this.#closing.signal.aborted) return 0
      this.#failures += 1
      const delayMs = Math.min(this.#retryMs * 2 ** (this.#failures - 1), MAX_BACKOFF_MS)
      this.#setState('unreachable', 'revocation feed unavailable: tokens are checked against the list as it stands, writes by introspection', { reason: reasonOf(error) })
      this.options.log.debug({ reason: reasonOf(error), retryInMs: delayMs }, 'revocation feed page failed')
      return delayMs
    }
    this.#failures = 0
    try {
      await this.#follow()
      // Ended by user-service (its credential lifetime, a restart): resume at once.
      this.#setState('connecting', 'revocation stream ended; resuming')
      return 0
    } catch (error) {
      if (this.#closing.signal.aborted) return 0
      this.options.log.debug({ reason: reasonOf(error) }, 'revocation stream failed')
      if (this.#state === 'live') {
        // Cut while live: again after `retry`, as EventSource would.
        this.#setState('connecting', 'revocation stream lost; resuming', { reason: reasonOf(error) })
        return this.#retryMs
      }
      this.#setState('polling', `revocation stream unavailable; polling the page endpoint every ${this.options.pollIntervalMs} ms`, { reason: reasonOf(error) })
      return this.options.pollIntervalMs
    }
  }

  /** One stream connection, until it ends (resolves) or fails (throws). */
  async #follow (): Promise<void> {
    const connection = new AbortController()
    const signal = AbortSignal.any([this.#closing.signal, connection.signal])
    let idle: NodeJS.Timeout | undefined
    const stillAlive = (): void => {
      clearTimeout(idle)
      idle = setTimeout(() => { connection.abort(new Error(`nothing received for ${this.options.idleTimeoutMs} ms`)) }, this.options.idleTimeoutMs)
    }
    stillAlive()
    try {
      const response = await fetch(`${this.options.userServiceUrl}/api/v1/auth/revocations/stream`, {
        headers: { authorization: this.options.authorization, accept: 'text/event-stream', ...(this.#cursor === undefined ? {} : { 'last-event-id': this.#cursor }) },
        signal
      })
      if (response.status !== 200 || response.body === null) {
        await response.body?.cancel()
        throw new FeedRefused(response.status, 'the revocation stream')
      }
      this.#setState('live', 'revocation stream connected', { lastEventId: this.#cursor ?? null })
      for await (const block of eventStreamBlocks(response.body)) {
        stillAlive()
        if (block.retry !== undefined && /^\d+$/.test(block.retry)) this.#retryMs = Number(block.retry)
        if (block.data === undefined) continue
        this.list.add(revocationEntry(JSON.parse(block.data)))
        if (block.id !== undefined) this.#cursor = block.id
      }
    } catch (error) {
      throw signal.aborted && signal.reason instanceof Error ? signal.reason : error
    } finally {
      clearTimeout(idle)
    }
  }

  /** Reads pages from the cursor until a page is not full; throws when user-service cannot be read. */
  async #catchUp (): Promise<void> {
    for (let full = true; full;) {
      const page = await this.#page()
      for (const entry of page.items) this.list.add(entry)
      this.#cursor = page.next_cursor
      full = page.items.length === PAGE_SIZE
    }
  }

  async #page (): Promise<{ items: RevocationEntry[], next_cursor: string }> {
    const query = new URLSearchParams({ limit: String(PAGE_SIZE), ...(this.#cursor === undefined ? {} : { since: this.#cursor }) })
    const response = await fetch(`${this.options.userServiceUrl}/api/v1/auth/revocations?${query.toString()}`, {
      headers: { authorization: this.options.authorization, accept: 'application/json' },
      signal: AbortSignal.any([this.#closing.signal, AbortSignal.timeout(PAGE_TIMEOUT_MS)])
    })
    const body = await response.json().catch(() => undefined) as { items?: unknown, next_cursor?: unknown } | undefined
    if (response.status !== 200) throw new FeedRefused(response.status, 'the revocation page')
    if (!Array.isArray(body?.items) || typeof body?.next_cursor !== 'string') throw new Error('the revocation page is not {items, next_cursor}')
    return { items: body.items.map(revocationEntry), next_cursor: body.next_cursor }
  }

  /** Logs a change of state (not every attempt in the same one). */
  #setState (state: FeedState, message: string, fields: Record<string, unknown> = {}): void {
    const changed = state !== this.#state
    this.#state = state
    if (state === 'live' || (changed && state === 'connecting')) this.options.log.info({ revocations: state, ...fields }, message)
    else if (changed) this.options.log.warn({ revocations: state, ...fields }, message)
  }
}

/** An entry as user-service sends it; anything else stops the feed rather than be skipped (a skipped entry is a revoked token accepted). */
function revocationEntry (value: unknown): RevocationEntry {
  const entry = (typeof value === 'object' && value !== null ? value : {}) as Partial<RevocationEntry>
  const sidOk = entry.sid === null || typeof entry.sid === 'string'
  if (!sidOk || typeof entry.sub !== 'string' || typeof entry.revoked_at !== 'string') throw new Error(`not a revocation entry: ${String(JSON.stringify(value)).slice(0, 200)}`)
  return { sid: entry.sid ?? null, sub: entry.sub, revoked_at: entry.revoked_at }
}

function reasonOf (error: unknown): string {
  const cause = error instanceof Error ? (error.cause as { code?: string } | undefined) : undefined
  return cause?.code ?? (error instanceof Error ? error.message : String(error))
}

async function wait (ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return
  await new Promise<void>((resolve) => {
    const timer = setTimeout(done, ms)
    signal.addEventListener('abort', done, { once: true })
    function done (): void {
      clearTimeout(timer)
      signal.removeEventListener('abort', done)
      resolve()
    }
  })
}
