/**
 * The live answer about a token: user-service's RFC 7662 introspection, called as
 * orders-service's own confidential client. A JWT that verifies offline may still belong to
 * an account that was disabled or a session that ended since it was issued; introspection
 * sees that at once.
 */

/** What a caller is told to wait when user-service gave no Retry-After of its own. */
const DEFAULT_RETRY_AFTER_SECONDS = 5

/** No answer to trust (unreachable, timeout, 5xx, our credentials refused, a malformed reply): the write must not go ahead. */
export class IntrospectionUnavailable extends Error {
  constructor (message: string, readonly retryAfterSeconds: number = DEFAULT_RETRY_AFTER_SECONDS) {
    super(message)
    this.name = 'IntrospectionUnavailable'
  }
}

/** application/x-www-form-urlencoded, which RFC 6749 §2.3.1 asks for on both halves of the Basic pair (user-service decodes them so). */
function formEncode (value: string): string {
  return encodeURIComponent(value).replace(/%20/g, '+')
}

/** client_secret_basic: base64 of `formEncode(id):formEncode(secret)`. A plain `id:secret` breaks on a ':' or '%' in either. */
export function basicAuthorization (id: string, secret: string): string {
  return `Basic ${Buffer.from(`${formEncode(id)}:${formEncode(secret)}`, 'utf8').toString('base64')}`
}

/** user-service's Retry-After on a 429 or 503, when it sent whole seconds; else ours. */
function retryAfter (response: Response): number {
  const seconds = Number(response.headers.get('retry-after'))
  return Number.isInteger(seconds) && seconds > 0 ? seconds : DEFAULT_RETRY_AFTER_SECONDS
}

/** Why fetch failed, in a few words for the log: the timeout, or the socket error (ECONNREFUSED, ...). */
function fetchFailure (error: unknown, timeoutMs: number): string {
  if (error instanceof Error && error.name === 'TimeoutError') return `no answer within ${timeoutMs} ms`
  const cause = error instanceof Error ? (error.cause as { code?: string } | undefined) : undefined
  return cause?.code ?? (error instanceof Error ? error.message : String(error))
}

function parseJson (text: string): { active?: unknown, error?: unknown } | undefined {
  try {
    const value: unknown = JSON.parse(text)
    return typeof value === 'object' && value !== null ? value : undefined
  } catch {
    return undefined
  }
}

export class Introspector {
  readonly #url: string
  readonly #authorization: string

  constructor (userServiceUrl: string, client: { id: string, secret: string }, private readonly timeoutMs: number) {
    this.#url = `${userServiceUrl}/api/v1/auth/introspect`
    this.#authorization = basicAuthorization(client.id, client.secret)
  }

  /** Whether user-service says the token is live now; throws IntrospectionUnavailable when it cannot say. */
  async isActive (token: string): Promise<boolean> {
    // One timeout for the whole exchange, body included: a write never waits longer than this.
    const signal = AbortSignal.timeout(this.timeoutMs)
    try {
      const response = await fetch(this.#url, {
        method: 'POST',
        headers: { authorization: this.#authorization, accept: 'application/json' },
        body: new URLSearchParams({ token, token_type_hint: 'access_token' }),
        signal
      })
      // Read as text first: a timeout while reading throws (below), a body that is not JSON (a proxy's HTML page) is only unusable.
      const body = parseJson(await response.text())
      if (response.status !== 200) {
        // 401 invalid_client is our own misconfiguration (a wrong or rotated ORDERS_CLIENT_SECRET, a disabled client).
        const error = typeof body?.error === 'string' ? ` ${body.error}` : ''
        throw new IntrospectionUnavailable(`user-service answered ${response.status}${error}`, retryAfter(response))
      }
      if (typeof body?.active !== 'boolean') throw new IntrospectionUnavailable('user-service answered 200 without a boolean "active"')
      return body.active
    } catch (error) {
      if (error instanceof IntrospectionUnavailable) throw error
      throw new IntrospectionUnavailable(`user-service unreachable: ${fetchFailure(error, this.timeoutMs)}`)
    }
  }
}
