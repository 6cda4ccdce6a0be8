import type { FastifyBaseLogger, LogLevel } from 'fastify'
import type { Bindings, ChildLoggerOptions } from 'pino'

type Method = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace'

/**
 * A request's logger (`request.log`, `reply.log`), whose pino child is made when the request
 * first logs through it. Most requests never do: their one line is written by the log
 * controller (src/logging.ts) from the request id. A pino child per request cost about 2 us
 * of a `GET /api/v1/users/me` (docs/performance.md), most of it redacting its bindings.
 */
export class RequestLogger implements FastifyBaseLogger {
  #child: FastifyBaseLogger | undefined

  constructor (
    private readonly parent: FastifyBaseLogger,
    private readonly bindings: Bindings,
    private readonly options: ChildLoggerOptions
  ) {}

  get level (): LogLevel {
    return (this.#child?.level ?? this.options.level ?? this.parent.level) as LogLevel
  }

  set level (level: LogLevel) {
    this.#logger().level = level
  }

  fatal (...args: unknown[]): void { this.#log('fatal', args) }
  error (...args: unknown[]): void { this.#log('error', args) }
  warn (...args: unknown[]): void { this.#log('warn', args) }
  info (...args: unknown[]): void { this.#log('info', args) }
  debug (...args: unknown[]): void { this.#log('debug', args) }
  trace (...args: unknown[]): void { this.#log('trace', args) }
  silent (): void {}

  child (bindings: Bindings, options?: ChildLoggerOptions): FastifyBaseLogger {
    return this.#logger().child(bindings, options)
  }

  #logger (): FastifyBaseLogger {
    this.#child ??= this.parent.child(this.bindings, this.options)
    return this.#child
  }

  #log (method: Method, args: unknown[]): void {
    const logger = this.#logger()
    ;(logger[method] as (...args: unknown[]) => void).apply(logger, args)
  }
}

/** Fastify's `childLoggerFactory`: every request gets a `RequestLogger`. */
export function requestLogger (logger: FastifyBaseLogger, bindings: Bindings, options: ChildLoggerOptions): FastifyBaseLogger {
  return new RequestLogger(logger, bindings, options)
}
