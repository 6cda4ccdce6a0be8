/**
 * Read-your-writes for the session view. A change this instance commits reaches its own view
 * through the listener a moment after the commit, so a logout's 204 could otherwise be
 * followed by a request that the view still answers with the ended session. `pass` sends a
 * notification of its own and waits until the listener receives it: PostgreSQL delivers
 * notifications in commit order, so by then every change committed before has arrived too.
 */
export class NotificationBarrier {
  readonly #waiting = new Map<string, () => void>()
  #counter = 0

  constructor (
    /** Sends `token` on this instance's own channel. */
    private readonly send: (token: string) => Promise<void>,
    private readonly timeoutMs: number
  ) {}

  /** True once the listener has caught up; false when it did not within the timeout (or the send failed). */
  async pass (): Promise<boolean> {
    this.#counter += 1
    const token = String(this.#counter)
    let timer: NodeJS.Timeout | undefined
    const arrived = new Promise<boolean>((resolve) => {
      this.#waiting.set(token, () => { resolve(true) })
      timer = setTimeout(() => { resolve(false) }, this.timeoutMs)
    })
    try {
      await this.send(token)
      return await arrived
    } catch {
      return false
    } finally {
      clearTimeout(timer)
      this.#waiting.delete(token)
    }
  }

  /** A notification on this instance's channel came back. */
  arrived (token: string): void {
    this.#waiting.get(token)?.()
  }

  /**
   * The listener lost its connection: the view has forgotten everything and reads through,
   * so nobody needs to wait any more.
   */
  releaseAll (): void {
    for (const release of this.#waiting.values()) release()
  }
}
