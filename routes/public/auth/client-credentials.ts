import type { FastifyRequest } from 'fastify'
import { BASIC_CHALLENGE } from '../../../src/auth/clients/client-authentication.js'
import type { PresentedClient } from '../../../src/auth/clients/client-authentication.js'
import { OAuthError } from '../../../src/errors.js'

/** RFC 6749 §3.2: a parameter sent without a value is treated as omitted. */
export function withoutEmpties<B extends Record<string, string | undefined>> (body: B): B {
  return Object.fromEntries(Object.entries(body).filter(([, value]) => value !== '')) as B
}

/**
 * The client credentials of a request: `Authorization: Basic` (client_secret_basic) or
 * `client_id` / `client_secret` in the body (client_secret_post). Swagger UI sends an empty
 * Basic pair, which counts as none. Using both methods at once is refused (RFC 6749 §2.3).
 */
export function presentedClient (request: FastifyRequest, body: { client_id?: string | undefined, client_secret?: string | undefined }): PresentedClient {
  const basic = basicCredentials(request.headers.authorization)
  const basicUsed = basic !== undefined && (basic.id !== '' || basic.secret !== '')
  if (basicUsed && body.client_secret !== undefined) {
    throw new OAuthError('invalid_request', 'send the client credentials once: in Authorization: Basic or in the body, not both')
  }
  return basicUsed ? { id: basic.id, secret: basic.secret } : { id: body.client_id, secret: body.client_secret }
}

/**
 * The client id and secret of an `Authorization: Basic` header (RFC 6749 §2.3.1: both
 * form-encoded, then joined by ":" and base64-encoded), or undefined without one. A value
 * that is not base64 of "id:secret" is a 401 invalid_client.
 */
function basicCredentials (header: string | undefined): { id: string, secret: string } | undefined {
  const match = /^Basic(?:\s+(.*?))?\s*$/i.exec(header ?? '')
  if (match === null) return undefined
  const encoded = match[1] ?? ''
  const decoded = Buffer.from(encoded, 'base64')
  const colon = decoded.indexOf(':')
  if (encoded === '' || decoded.toString('base64').replace(/=+$/, '') !== encoded.replace(/=+$/, '') || colon === -1) {
    throw malformedBasic('is not base64 of "client_id:client_secret"')
  }
  try {
    return { id: formDecode(decoded.subarray(0, colon).toString('utf8')), secret: formDecode(decoded.subarray(colon + 1).toString('utf8')) }
  } catch {
    throw malformedBasic('holds a client_id or client_secret that is not form-encoded')
  }
}

function formDecode (value: string): string {
  return decodeURIComponent(value.replace(/\+/g, ' '))
}

function malformedBasic (problem: string): OAuthError {
  return new OAuthError('invalid_client', `the Authorization: Basic value ${problem} (RFC 6749 §2.3.1)`, 401, BASIC_CHALLENGE)
}
