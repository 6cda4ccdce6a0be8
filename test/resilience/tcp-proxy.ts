import { once } from 'node:events'
import net from 'node:net'

/**
 * A TCP proxy the test controls, between the app and PostgreSQL. `cut()` destroys every
 * connection and stops listening (new connections are refused); `restore()` listens again on
 * the same port.
 */
export class TcpProxy {
  readonly #server: net.Server
  readonly #sockets = new Set<net.Socket>()
  #port = 0

  constructor (private readonly target: { host: string, port: number }) {
    this.#server = net.createServer((client) => { this.#forward(client) })
  }

  get port (): number {
    return this.#port
  }

  async start (): Promise<void> {
    this.#server.listen(this.#port, '127.0.0.1')
    await once(this.#server, 'listening')
    this.#port = (this.#server.address() as net.AddressInfo).port
  }

  async cut (): Promise<void> {
    const closed = new Promise((resolve) => this.#server.close(resolve))
    for (const socket of this.#sockets) socket.destroy()
    this.#sockets.clear()
    await closed
  }

  async restore (): Promise<void> {
    await this.start()
  }

  async stop (): Promise<void> {
    if (this.#server.listening) await this.cut()
  }

  #forward (client: net.Socket): void {
    const upstream = net.connect(this.target.port, this.target.host)
    for (const socket of [client, upstream]) {
      this.#sockets.add(socket)
      socket.on('error', () => { client.destroy(); upstream.destroy() })
      socket.on('close', () => { this.#sockets.delete(socket); client.destroy(); upstream.destroy() })
    }
    client.pipe(upstream)
    upstream.pipe(client)
  }
}
