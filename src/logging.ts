import { LogController, type FastifyBaseLogger, type FastifyReply, type FastifyRequest } from 'fastify'

/**
 * One log line per request, written when it completes, with method, url, status and time.
 *
 * A completed request's line goes through a logger without redaction: its fields are all
 * made here (the request by `serializeRequest`, which keeps no header and no query value; the
 * status; the time), so there is nothing to redact, and pino's wildcard redaction costs more
 * than the rest of the line (about 15 µs of the ~25 µs per line measured in
 * docs/performance.md). Every other line, errors included, keeps the redaction.
 */
export class OneLinePerRequest extends LogController {
  #accessLog: FastifyBaseLogger | undefined

  constructor () {
    super({ requestIdLogLabel: 'reqId' })
  }

  override incomingRequest (): void {}

  override requestCompleted (error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply): void {
    const line = { req: request, res: reply, responseTime: Math.round(reply.elapsedTime * 100) / 100 }
    if (error !== null && error !== undefined) {
      reply.log.error({ ...line, err: error }, 'request errored')
      return
    }
    this.#accessLog ??= request.server.log.child({}, { redact: { paths: [] } })
    this.#accessLog.info({ reqId: request.id, ...line }, 'request completed')
  }
}

/**
 * The URL with every query value replaced: a client may put a password or a token in a query
 * string, and the keys are enough to follow a request.
 */
export function redactQuery (url: string): string {
  const start = url.indexOf('?')
  if (start === -1) return url
  const pairs = url.slice(start + 1).split('&').map((pair) => {
    const equals = pair.indexOf('=')
    return equals === -1 ? pair : `${pair.slice(0, equals)}=[redacted]`
  })
  return `${url.slice(0, start)}?${pairs.join('&')}`
}

/** Error properties that are safe to log. Drivers add `detail` (the failing row), `query`, `params`... */
const LOGGED_ERROR_FIELDS = ['code', 'statusCode', 'constraint', 'table', 'column', 'routine', 'severity'] as const

interface LoggedError { [field: string]: unknown, type: string, message: string, stack: string }

/** How deep a chain of causes is followed. */
const MAX_CAUSES = 3

/**
 * Logs an error by an allow-list of fields, never by its enumerable properties: pg's `detail`
 * holds the failing row (password hash, token hash, email) and PGlite's errors carry the
 * query's bound parameters.
 */
export function serializeError (error: unknown, depth = 0): LoggedError {
  if (!(error instanceof Error)) {
    return { type: typeof error, message: typeof error === 'string' ? error : 'a non-Error value was thrown', stack: '' }
  }
  const logged: LoggedError = { type: error.name, message: error.message, stack: error.stack ?? '' }
  for (const field of LOGGED_ERROR_FIELDS) {
    const value = (error as unknown as Record<string, unknown>)[field]
    if (typeof value === 'string' || typeof value === 'number') logged[field] = value
  }
  if (error.cause !== undefined && depth < MAX_CAUSES) logged.cause = serializeError(error.cause, depth + 1)
  if (error instanceof AggregateError && depth < MAX_CAUSES) logged.errors = error.errors.slice(0, 5).map((inner) => serializeError(inner, depth + 1))
  return logged
}

/** The request as a log line shows it: no headers (they hold credentials), no query values. */
export function serializeRequest (request: FastifyRequest): Record<string, unknown> {
  return {
    method: request.method,
    url: redactQuery(request.url),
    host: request.host,
    remoteAddress: request.ip,
    remotePort: request.socket?.remotePort
  }
}
