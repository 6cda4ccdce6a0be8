import { sql, type Kysely } from 'kysely'
import type { Database } from '../../db/types.js'
import { AppError } from '../../errors.js'

/** One entry: a session that ended (`sid`), or a whole account (`sid` null: disabled or deleted). */
export interface Revocation {
  sid: string | null
  sub: string
  revoked_at: Date
}

/** An entry with its position: a stream event's `id`. */
export interface FeedEntry extends Revocation {
  cursor: string
}

export interface RevocationPage {
  items: Revocation[]
  /** Where to resume (`?since=`): never null, the position after the last entry, or the one given when there is none. */
  next_cursor: string
}

/** A cursor is the position of an entry; "0" (or none) is the start of what the feed still holds. */
const CURSOR = /^\d{1,18}$/

/**
 * The position `cursor` names; "0" without one. `where` names the parameter it came in, for the
 * message: `since` (the page's query) or `Last-Event-ID` (a stream's resumption).
 */
export function decodeFeedCursor (cursor: string | undefined, where: { name: string, path: string } = SINCE): string {
  if (cursor === undefined) return '0'
  if (!CURSOR.test(cursor)) {
    throw new AppError('validation_failed', `${where.name} is not a cursor of the revocation feed`, {
      errors: [{ path: where.path, message: 'is not a cursor this feed gave out (next_cursor, or an event\'s id); start again without one' }]
    })
  }
  return cursor
}

const SINCE = { name: 'since', path: '/querystring/since' }

/**
 * The revocation feed (DESIGN "Revocation feed"): what resource servers need to refuse tokens
 * of ended sessions and disabled or deleted accounts before they expire. Entries are written by
 * triggers in the transaction of each change (see the migration) and kept as long as an access
 * token can live, so the feed stays small.
 */
export class RevocationFeed {
  readonly #watchers = new Set<() => void>()
  #live = false

  constructor (private readonly db: Kysely<Database>, private readonly tokenLifetimeMinutes: number) {}

  /**
   * True while this instance receives the database's notifications of new entries: a reader
   * may then wait for `watch` instead of polling. False before the listener is up and while it
   * reconnects: readers must poll.
   */
  get live (): boolean {
    return this.#live
  }

  /**
   * Calls `watcher` whenever entries may have been added (a notification arrived) or `live`
   * changed; returns what stops it. The watcher reads the entries itself (`page`).
   */
  watch (watcher: () => void): () => void {
    this.#watchers.add(watcher)
    return () => { this.#watchers.delete(watcher) }
  }

  /** The notification listener's news: an entry was committed. */
  announce (): void {
    for (const watcher of this.#watchers) watcher()
  }

  /** The notification listener's news: notifications arrive (true) or may be missed (false). */
  setLive (live: boolean): void {
    if (live === this.#live) return
    this.#live = live
    this.announce()
  }

  /** How many readers wait for entries (the stream's subscribers). */
  get watchers (): number {
    return this.#watchers.size
  }

  /** Entries after `since`, oldest first. */
  async page (since: string | undefined, limit: number): Promise<RevocationPage> {
    const after = decodeFeedCursor(since)
    const rows = await this.entries(after, limit)
    return {
      items: rows.map(({ sid, sub, revoked_at: revokedAt }) => ({ sid, sub, revoked_at: revokedAt })),
      next_cursor: rows.at(-1)?.cursor ?? after
    }
  }

  /** At most `limit` entries after the position `after` (a decoded cursor), oldest first, each with its own. */
  async entries (after: string, limit: number): Promise<FeedEntry[]> {
    return this.db.selectFrom('revocations')
      .select(['sid', 'sub', 'revoked_at', sql<string>`id::text`.as('cursor')])
      .where('id', '>', sql<string>`${after}::bigint`)
      .orderBy('id')
      .limit(limit)
      .execute()
  }

  /** Deletes entries older than any access token can be (its lifetime, plus a minute for clocks); returns how many. */
  async prune (): Promise<number> {
    const result = await this.db.deleteFrom('revocations')
      .where('revoked_at', '<', sql<Date>`now() - ${`${this.tokenLifetimeMinutes * 60 + 60} seconds`}::interval`)
      .executeTakeFirst()
    return Number(result.numDeletedRows)
  }
}
