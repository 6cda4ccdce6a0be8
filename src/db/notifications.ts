import type { PGlite } from '@electric-sql/pglite'
import { sql, type Kysely } from 'kysely'
import pg from 'pg'
import type { Database } from './types.js'
import { errorMessage } from '../error-message.js'

/** What a notification listener tells its owner. */
export interface NotificationHandlers {
  /** A NOTIFY on one of the channels, in commit order. */
  notification: (channel: string, payload: string) => void
  /** LISTEN is in place: from now on no notification is missed. */
  connected: () => void
  /** The connection is gone: notifications may be missed until `connected` again. */
  disconnected: (reason: string) => void
}

/** One LISTEN connection per instance (DESIGN "Revocation feed and the session cache"). */
export interface NotificationListener {
  /**
   * True when a notification reaches the handlers before the committing statement returns
   * (PGlite, in process); false when it travels on a connection of its own, a moment later.
   */
  readonly deliversAtCommit: boolean
  /** Resolves after the first attempt to listen, whether it worked or not (it keeps retrying). */
  start: () => Promise<void>
  /** Drops the connection and listens on a new one (it looks alive but stopped delivering). */
  reconnect: (reason: string) => void
  close: () => Promise<void>
}

/** Sends `payload` on `channel` (PostgreSQL's NOTIFY, delivered when the statement's transaction commits). */
export async function notify (db: Kysely<Database>, channel: string, payload: string): Promise<void> {
  await sql`select pg_notify(${channel}, ${payload})`.execute(db)
}

export type ListenerFactory = (channels: readonly string[], handlers: NotificationHandlers) => NotificationListener

export interface PostgresListenerOptions {
  /** How often the connection is checked with a query: a dead peer that sent no FIN is found this way. */
  pingIntervalMs: number
  /** First reconnect delay; it doubles up to `maxRetryMs`. */
  retryMs: number
  maxRetryMs: number
  connectTimeoutMs: number
}

const DEFAULT_OPTIONS: PostgresListenerOptions = { pingIntervalMs: 5000, retryMs: 100, maxRetryMs: 5000, connectTimeoutMs: 5000 }

/**
 * LISTEN on a dedicated PostgreSQL connection (not from the pool: a pooled connection is
 * handed to others between queries). It reconnects with backoff when the connection is lost,
 * errors, or stops answering pings, and says so through `disconnected`/`connected`.
 */
export class PostgresListener implements NotificationListener {
  readonly deliversAtCommit = false
  readonly #options: PostgresListenerOptions
  #client: pg.Client | undefined
  #closed = false
  #reportedDown = false
  #retryMs: number
  #retryTimer: NodeJS.Timeout | undefined
  #pingTimer: NodeJS.Timeout | undefined

  constructor (
    private readonly connectionString: string,
    private readonly channels: readonly string[],
    private readonly handlers: NotificationHandlers,
    options: Partial<PostgresListenerOptions> = {}
  ) {
    this.#options = { ...DEFAULT_OPTIONS, ...options }
    this.#retryMs = this.#options.retryMs
  }

  async start (): Promise<void> {
    await this.#connect()
  }

  reconnect (reason: string): void {
    if (this.#client !== undefined) this.#lost(this.#client, reason)
  }

  async close (): Promise<void> {
    this.#closed = true
    clearTimeout(this.#retryTimer)
    clearInterval(this.#pingTimer)
    const client = this.#client
    this.#client = undefined
    await client?.end().catch(() => {})
  }

  async #connect (): Promise<void> {
    const client = new pg.Client({
      connectionString: this.connectionString,
      application_name: 'user-service listener',
      keepAlive: true,
      connectionTimeoutMillis: this.#options.connectTimeoutMs
    })
    client.on('notification', (message) => { this.handlers.notification(message.channel, message.payload ?? '') })
    client.on('error', (error) => { this.#lost(client, errorMessage(error)) })
    client.on('end', () => { this.#lost(client, 'the connection closed') })
    try {
      await client.connect()
      for (const channel of this.channels) await client.query(`listen ${client.escapeIdentifier(channel)}`)
    } catch (error) {
      client.removeAllListeners('end')
      await client.end().catch(() => {})
      // Said once per outage, not once per retry.
      if (!this.#reportedDown) this.handlers.disconnected(errorMessage(error))
      this.#reportedDown = true
      this.#retryLater()
      return
    }
    if (this.#closed) {
      await client.end().catch(() => {})
      return
    }
    this.#client = client
    this.#reportedDown = false
    this.#retryMs = this.#options.retryMs
    this.#pingTimer = setInterval(() => { void this.#ping(client) }, this.#options.pingIntervalMs)
    this.#pingTimer.unref()
    this.handlers.connected()
  }

  async #ping (client: pg.Client): Promise<void> {
    let timer: NodeJS.Timeout | undefined
    const timeout = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => { reject(new Error('the listener connection stopped answering')) }, this.#options.pingIntervalMs)
    })
    try {
      await Promise.race([client.query('select 1'), timeout])
    } catch (error) {
      this.#lost(client, errorMessage(error))
    } finally {
      clearTimeout(timer)
    }
  }

  /** Each lost connection is reported once, and replaced once. */
  #lost (client: pg.Client, reason: string): void {
    if (client !== this.#client) return
    this.#client = undefined
    clearInterval(this.#pingTimer)
    client.removeAllListeners('end')
    client.end().catch(() => {})
    this.handlers.disconnected(reason)
    this.#reportedDown = true
    this.#retryLater()
  }

  #retryLater (): void {
    if (this.#closed) return
    this.#retryTimer = setTimeout(() => { void this.#connect() }, this.#retryMs)
    this.#retryTimer.unref()
    this.#retryMs = Math.min(this.#retryMs * 2, this.#options.maxRetryMs)
  }
}

/**
 * PGlite is one process's database: its notifications are delivered in process, as the
 * committing statement returns, and never lost.
 */
export class PGliteListener implements NotificationListener {
  readonly deliversAtCommit = true
  readonly #stops: Array<() => Promise<void>> = []

  constructor (
    private readonly pglite: PGlite,
    private readonly channels: readonly string[],
    private readonly handlers: NotificationHandlers,
    /** Runs `work` holding the one connection. */
    private readonly exclusively: (work: () => Promise<void>) => Promise<void>
  ) {}

  async start (): Promise<void> {
    await this.exclusively(async () => {
      for (const channel of this.channels) {
        this.#stops.push(await this.pglite.listen(channel, (payload) => { this.handlers.notification(channel, payload) }))
      }
    })
    this.handlers.connected()
  }

  /** In process, nothing can be lost in transit. */
  reconnect (): void {}

  async close (): Promise<void> {
    // A closed PGlite has dropped its listeners with it.
    if (this.pglite.closed) return
    for (const stop of this.#stops.splice(0)) await stop()
  }
}
