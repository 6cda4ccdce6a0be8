/** Where batched lines go: pino's synchronous destination (sonic-boom) in production. */
export interface LineSink {
  write (chunk: string): unknown
  flushSync?: () => void
}

/** A batch larger than this is written at once instead of at the end of the turn. */
const MAX_PENDING_CHARS = 64 * 1024

/**
 * Log lines collected during one turn of the event loop and written together when it ends,
 * with one synchronous write.
 *
 * Written one by one, a line per request cost about 17 us of a `GET /api/v1/users/me`
 * (docs/performance.md, "Writing the request lines"): pino's asynchronous destination hands
 * each write to libuv's thread pool, whose thread wakes, writes and wakes the event loop
 * again, on the same cores the requests need; a synchronous write per line is a system call
 * per request. A turn answers several requests under load and one when idle, so a line waits
 * at most for the turn it was logged in to end, and a quiet service writes each line at once.
 *
 * What is still pending when the process exits is written by `flushSync` (server.ts calls it
 * from the process's `exit` event).
 */
export class TurnBatchedDestination {
  readonly #sink: LineSink
  #pending = ''
  #scheduled = false

  constructor (sink: LineSink) {
    this.#sink = sink
  }

  write (line: string): void {
    this.#pending += line
    if (this.#pending.length >= MAX_PENDING_CHARS) {
      this.#writePending()
      return
    }
    if (this.#scheduled) return
    this.#scheduled = true
    setImmediate(this.#endOfTurn)
  }

  /** Writes what is pending now, and whatever the sink still holds. */
  flushSync (): void {
    this.#writePending()
    this.#sink.flushSync?.()
  }

  /** pino's `logger.flush(callback)`. */
  flush (callback?: (error?: Error) => void): void {
    try {
      this.flushSync()
    } catch (error) {
      callback?.(error as Error)
      return
    }
    callback?.()
  }

  readonly #endOfTurn = (): void => {
    this.#scheduled = false
    this.#writePending()
  }

  #writePending (): void {
    if (this.#pending === '') return
    const batch = this.#pending
    this.#pending = ''
    this.#sink.write(batch)
  }
}
