import type { UserRow } from '../../db/types.js'
import { LruMap } from './lru.js'
import type { UserWithSession } from './sessions.repository.js'

/** The user of a verified access token, or why the token is refused. */
export type SessionLookup = { user: UserRow } | { refusal: string }

/** The database read a lookup falls back to. */
export type SessionRead = (userId: string, sessionId: string) => Promise<UserWithSession | undefined>

/** `hit`: answered from memory; `miss`: read (and kept); `read_through`: read while the view is not connected. */
export type LookupSource = 'hit' | 'miss' | 'read_through'

export interface SessionViewOptions {
  /** How many users, and separately how many sessions, are kept at most; 0 keeps none. */
  maxEntries: number
  now?: () => number
  /** Told how each lookup was answered (metrics). */
  observe?: (source: LookupSource) => void
  /**
   * Resolves true once every notification committed before the call has arrived, false when
   * that did not happen in time (the listener is broken); absent when they arrive at commit.
   */
  catchUp?: () => Promise<boolean>
}

interface KeptSession {
  userId: string
  /** When the session ends by itself (ms since the epoch). */
  expiresAt: number
}

/** The rules of a protected request, whichever way the row was found. */
export function judgeUserWithSession (row: UserWithSession | undefined): SessionLookup {
  if (row === undefined) return { refusal: 'the account of this token no longer exists' }
  if (!row.is_active) return { refusal: 'the account of this token is disabled' }
  const { session_live: live, session_expires_at: _expiresAt, ...user } = row
  return live ? { user } : { refusal: 'the session of this token has ended' }
}

/**
 * What a protected request needs to know (the token's user, and that its session is live),
 * kept in memory and fed by the database's notifications (DESIGN "Revocation feed and the
 * session cache"). It answers from memory only while it is connected to the notifications;
 * otherwise every lookup reads the database.
 *
 * A read that a notification about its user overtakes is not kept: each notification and
 * each (dis)connection advances a sequence, and a read keeps its row only when nothing about
 * its user, and no reconnection, happened since the read began. Without this, a row read just
 * before a logout committed, but returned just after its notification, would outlive it.
 */
export class SessionView {
  readonly #users: LruMap<string, UserRow>
  readonly #sessions: LruMap<string, KeptSession>
  readonly #now: () => number
  readonly #observe: (source: LookupSource) => void
  #connected = false
  #sequence = 0
  /** The sequence of the last (dis)connection: reads begun before it are not kept. */
  #lastReset = 0
  /** Users being read, with how many reads. */
  readonly #reading = new Map<string, number>()
  /** Users being read that a notification named, with its sequence. */
  readonly #changedWhileReading = new Map<string, number>()

  constructor (private readonly read: SessionRead, private readonly options: SessionViewOptions) {
    this.#users = new LruMap(options.maxEntries)
    this.#sessions = new LruMap(options.maxEntries)
    this.#now = options.now ?? Date.now
    this.#observe = options.observe ?? (() => {})
  }

  get connected (): boolean {
    return this.#connected
  }

  get size (): { users: number, sessions: number } {
    return { users: this.#users.size, sessions: this.#sessions.size }
  }

  async lookup (userId: string, sessionId: string): Promise<SessionLookup> {
    return this.kept(userId, sessionId) ?? this.#readAndKeep(userId, sessionId)
  }

  /** The answer from memory alone; undefined when the database must be read (`lookup` reads it). */
  kept (userId: string, sessionId: string): SessionLookup | undefined {
    if (!this.#connected) return undefined
    const user = this.#users.get(userId)
    const session = user === undefined ? undefined : this.#sessions.get(sessionId)
    if (user === undefined || session === undefined || session.userId !== userId || session.expiresAt <= this.#now()) return undefined
    this.#observe('hit')
    return user.is_active ? { user } : { refusal: 'the account of this token is disabled' }
  }

  async #readAndKeep (userId: string, sessionId: string): Promise<SessionLookup> {
    this.#observe(this.#connected ? 'miss' : 'read_through')
    const began = this.#sequence
    this.#reading.set(userId, (this.#reading.get(userId) ?? 0) + 1)
    try {
      const row = await this.read(userId, sessionId)
      if (row !== undefined && this.#mayKeep(userId, began)) this.#keep(userId, sessionId, row)
      return judgeUserWithSession(row)
    } finally {
      const left = (this.#reading.get(userId) ?? 1) - 1
      if (left > 0) {
        this.#reading.set(userId, left)
      } else {
        this.#reading.delete(userId)
        this.#changedWhileReading.delete(userId)
      }
    }
  }

  #mayKeep (userId: string, began: number): boolean {
    if (!this.#connected || this.options.maxEntries === 0 || this.#lastReset > began) return false
    return (this.#changedWhileReading.get(userId) ?? 0) <= began
  }

  #keep (userId: string, sessionId: string, row: UserWithSession): void {
    const { session_live: live, session_expires_at: expiresAt, ...user } = row
    this.#users.set(userId, user)
    if (live && expiresAt !== null) this.#sessions.set(sessionId, { userId, expiresAt: expiresAt.getTime() })
    else this.#sessions.delete(sessionId)
  }

  /** A session ended (`sessionId`), or a whole account was disabled or deleted (null). */
  revoked (userId: string, sessionId: string | null): void {
    this.#changed(userId)
    if (sessionId === null) this.#users.delete(userId)
    else this.#sessions.delete(sessionId)
  }

  /** A users row changed: its profile, roles, password or activation. */
  userChanged (userId: string): void {
    this.#changed(userId)
    this.#users.delete(userId)
  }

  #changed (userId: string): void {
    this.#sequence += 1
    if (this.#reading.has(userId)) this.#changedWhileReading.set(userId, this.#sequence)
  }

  /**
   * Waits until every change committed before the call has reached the view (a write's
   * answer, a test that changed the database directly). False when the listener did not catch
   * up in time: the view then stops answering from memory until its owner reconnects it.
   */
  async catchUp (): Promise<boolean> {
    if (!this.#connected || this.options.catchUp === undefined) return true
    if (await this.options.catchUp()) return true
    this.disconnect()
    return false
  }

  /** Forgets everything kept (what a notification named cannot be told). */
  forgetAll (): void {
    this.#reset()
  }

  /** Notifications arrive from now on: start keeping what is read. */
  connect (): void {
    this.#reset()
    this.#connected = true
  }

  /** Notifications may be missed: forget everything and read through until `connect`. */
  disconnect (): void {
    this.#connected = false
    this.#reset()
  }

  #reset (): void {
    this.#users.clear()
    this.#sessions.clear()
    this.#sequence += 1
    this.#lastReset = this.#sequence
  }
}
