import { EventStreamClient } from '../../test/auth/event-stream-client.js'

/**
 * A resource server's view of the revocation stream (GET /auth/revocations/stream): records
 * when each session's entry arrives.
 */
export class RevocationSubscriber {
  readonly #waiting = new Map<string, (at: number) => void>()

  private constructor (private readonly client: EventStreamClient) {}

  /** Subscribes as `token`'s holder; undefined when the service has no stream. */
  static async open (url: string, token: string): Promise<RevocationSubscriber | undefined> {
    const client = await EventStreamClient.open(`${url}/api/v1/auth/revocations/stream`, { authorization: `Bearer ${token}` })
    if (client.response.status === 404) {
      await client.response.arrayBuffer()
      return undefined
    }
    if (client.response.status !== 200) throw new Error(`the revocation stream answered ${client.response.status}`)
    const subscriber = new RevocationSubscriber(client)
    void subscriber.#read()
    return subscriber
  }

  /** When the entry of session `sid` arrives (performance.now()); ask before the session ends. */
  async arrivalOf (sid: string): Promise<number> {
    return new Promise((resolve) => { this.#waiting.set(sid, resolve) })
  }

  close (): void {
    this.client.close()
  }

  async #read (): Promise<void> {
    for (let event = await this.client.nextEvent(); event !== undefined; event = await this.client.nextEvent()) {
      const { sid } = JSON.parse(event.data ?? '{}') as { sid?: string | null }
      if (typeof sid !== 'string') continue
      this.#waiting.get(sid)?.(performance.now())
      this.#waiting.delete(sid)
    }
  }
}
