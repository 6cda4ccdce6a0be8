import { eventStreamBlocks, type StreamBlock } from '../../examples/orders-service/event-stream.js'

export type { StreamBlock }

/**
 * A test's Server-Sent Events client: opens a stream with fetch and hands out its blocks one by
 * one as the server sends them (parsed by the orders-service example's reader).
 */
export class EventStreamClient {
  readonly #blocks: StreamBlock[] = []
  readonly #waiting: Array<(block: StreamBlock | undefined) => void> = []
  readonly #abort = new AbortController()
  #ended = false

  private constructor (readonly response: Response) {}

  /** The answer, and (on 200) a client reading its body. */
  static async open (url: string, headers: Record<string, string> = {}): Promise<EventStreamClient> {
    const abort = new AbortController()
    const response = await fetch(url, { headers: { accept: 'text/event-stream', ...headers }, signal: abort.signal })
    const client = new EventStreamClient(response)
    client.#abort.signal.addEventListener('abort', () => { abort.abort() })
    if (response.status === 200 && response.body !== null) void client.#read(response.body)
    return client
  }

  /** The next block; undefined once the server has ended the stream. */
  async next (): Promise<StreamBlock | undefined> {
    const block = this.#blocks.shift()
    if (block !== undefined || this.#ended) return block
    return new Promise((resolve) => { this.#waiting.push(resolve) })
  }

  /** The next block that is an event (has data), skipping comments and `retry`. */
  async nextEvent (): Promise<StreamBlock | undefined> {
    for (;;) {
      const block = await this.next()
      if (block === undefined || block.data !== undefined) return block
    }
  }

  close (): void {
    this.#abort.abort()
  }

  async #read (body: ReadableStream<Uint8Array>): Promise<void> {
    try {
      for await (const block of eventStreamBlocks(body)) this.#deliver(block)
    } catch {
      // Aborted by close(), or the connection was cut: the stream has ended either way.
    }
    this.#ended = true
    for (const resolve of this.#waiting.splice(0)) resolve(undefined)
  }

  #deliver (block: StreamBlock): void {
    const waiter = this.#waiting.shift()
    if (waiter === undefined) this.#blocks.push(block)
    else waiter(block)
  }
}
