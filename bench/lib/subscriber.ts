/**
 * A resource server's view of the revocation stream (GET /auth/revocations/stream): records
 * when each session's entry arrives.
 */
export class RevocationSubscriber {
  readonly #waiting = new Map<string, (at: number) => void>()
  readonly #abort = new AbortController()

  private constructor () {}

  /** Subscribes as `token`'s holder; undefined when the service has no stream. */
  static async open (url: string, token: string): Promise<RevocationSubscriber | undefined> {
    const subscriber = new RevocationSubscriber()
    const response = await fetch(`${url}/api/v1/auth/revocations/stream`, {
      headers: { authorization: `Bearer ${token}`, accept: 'text/event-stream' },
      signal: subscriber.#abort.signal
    })
    if (response.status === 404) {
      await response.arrayBuffer()
      return undefined
    }
    if (response.status !== 200 || response.body === null) throw new Error(`the revocation stream answered ${response.status}`)
    void subscriber.#read(response.body)
    return subscriber
  }

  /** When the entry of session `sid` arrives (performance.now()); ask before the session ends. */
  async arrivalOf (sid: string): Promise<number> {
    return new Promise((resolve) => { this.#waiting.set(sid, resolve) })
  }

  close (): void {
    this.#abort.abort()
  }

  async #read (body: ReadableStream<Uint8Array>): Promise<void> {
    const decoder = new TextDecoder()
    let buffered = ''
    try {
      for await (const chunk of body) {
        buffered += decoder.decode(chunk, { stream: true })
        let end = buffered.indexOf('\n\n')
        while (end !== -1) {
          this.#event(buffered.slice(0, end))
          buffered = buffered.slice(end + 2)
          end = buffered.indexOf('\n\n')
        }
      }
    } catch {
      // Aborted by close().
    }
  }

  #event (block: string): void {
    const data = block.split('\n').find((line) => line.startsWith('data:'))
    if (data === undefined) return
    const { sid } = JSON.parse(data.slice(5)) as { sid: string | null }
    if (sid === null) return
    this.#waiting.get(sid)?.(performance.now())
    this.#waiting.delete(sid)
  }
}
