import { LogController, type FastifyReply, type FastifyRequest } from 'fastify'
import pino, { type DestinationStream, type Logger } from 'pino'

/**
 * One log line per request, written when it completes, with method, url, status and time.
 *
 * A completed request's line is built here and handed to the logger's destination: its fields
 * are all made here (the request by `serializeRequest`, which keeps no header and no query
 * value; the status; the time), so there is nothing to redact, and going through pino (its
 * wildcard redaction, serializers and key-by-key assembly) cost about a tenth of a
 * `GET /api/v1/users/me` (docs/performance.md). The line is the one pino would write; every
 * other line, errors included, goes through pino and its redaction.
 */
export class OneLinePerRequest extends LogController {
  constructor () {
    super({ requestIdLogLabel: 'reqId' })
  }

  override incomingRequest (): void {}

  override requestCompleted (error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply): void {
    if (error !== null && error !== undefined) {
      reply.log.error({ req: request, res: reply, responseTime: responseTime(reply), err: error }, 'request errored')
      return
    }
    const logger = request.server.log as Logger
    if (!logger.isLevelEnabled('info')) return
    destinationOf(logger).write(accessLine(logger, request, reply))
  }
}

/** What pino keeps on a logger (`pino.symbols`): its destination, and its bindings as JSON (`,"pid":1,"hostname":"h"`). */
function destinationOf (logger: Logger): DestinationStream {
  return (logger as unknown as Record<symbol, DestinationStream>)[pino.symbols.streamSym] as DestinationStream
}

function bindingsOf (logger: Logger): string {
  return (logger as unknown as Record<symbol, string>)[pino.symbols.chindingsSym] ?? ''
}

/** The line pino writes for `info({ reqId, req, res, responseTime }, 'request completed')` with this service's options. */
export function accessLine (logger: Logger, request: FastifyRequest, reply: FastifyReply): string {
  return `{"level":${logger.levels.values.info},"time":${Date.now()}${bindingsOf(logger)},` +
    `"reqId":${JSON.stringify(request.id)},"req":${JSON.stringify(serializeRequest(request))},` +
    `"res":{"statusCode":${reply.statusCode}},"responseTime":${responseTime(reply)},"msg":"request completed"}\n`
}

function responseTime (reply: FastifyReply): number {
  return Math.round(reply.elapsedTime * 100) / 100
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
