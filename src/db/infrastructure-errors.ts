/**
 * Which database errors mean "the database is not there" (and count against the circuit
 * breaker), as opposed to errors about a query (a constraint, a bad value), which are the
 * caller's business and never open it.
 */

/** Node.js socket and DNS errors: the server is unreachable or the connection broke. */
const SOCKET_ERROR_CODES = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'ECONNABORTED', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH',
  'ENETUNREACH', 'ENETDOWN', 'ENOTFOUND', 'EAI_AGAIN', 'ENOTCONN'
])

/**
 * SQLSTATEs that are about the server, not the query: 08 connection exception, 53
 * insufficient resources (too many connections, out of memory, disk full), 57P01..57P05
 * shutdown / cannot connect now / idle timeouts, 57014 query_canceled (statement_timeout),
 * 58 system (I/O) errors.
 */
const INFRASTRUCTURE_SQLSTATE = /^(08...|53...|57P0[1-5]|57014|58...)$/

/** Messages of pg, pg-pool and PGlite for a lost connection, a pool timeout or a closed database. */
const INFRASTRUCTURE_MESSAGES = [
  /connection terminated/i,
  /timeout exceeded when trying to connect/i,
  /connection timeout/i,
  /not queryable/i,
  /cannot use a pool after calling end/i,
  /client was closed/i,
  /query read timeout/i,
  /pglite is closed/i
]

const SQLSTATE = /^[0-9A-Z]{5}$/

/** True for an error that says the database is unreachable, overloaded or gone. */
export function isInfrastructureError (error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false
  const code = (error as { code?: unknown }).code
  if (typeof code === 'string') {
    if (SOCKET_ERROR_CODES.has(code)) return true
    if (SQLSTATE.test(code)) return INFRASTRUCTURE_SQLSTATE.test(code)
  }
  const message = (error as { message?: unknown }).message
  if (typeof message === 'string' && INFRASTRUCTURE_MESSAGES.some((pattern) => pattern.test(message))) return true
  // AggregateError (a failed connect to every address of a host name) carries the socket errors.
  const errors = (error as { errors?: unknown }).errors
  return Array.isArray(errors) && errors.some(isInfrastructureError)
}
