import type { FastifyRequest } from 'fastify'
import type { AuditSource } from '../src/audit/events.js'
import { clientSource, type ClientContext } from '../src/auth/sessions/sessions.service.js'

const MAX_USER_AGENT = 512

/** What a session and an audit event record about the client: its User-Agent (capped), address (TRUST_PROXY-aware) and the request id. */
export function clientContext (request: FastifyRequest): ClientContext {
  const userAgent = request.headers['user-agent']
  return {
    userAgent: typeof userAgent === 'string' && userAgent !== '' ? userAgent.slice(0, MAX_USER_AGENT) : null,
    ip: request.ip === '' ? null : request.ip,
    requestId: request.id
  }
}

/** The signed-in user making a change through this request, as its audit events name them. */
export function actingUser (request: FastifyRequest): AuditSource {
  return clientSource(request.currentUser.id, clientContext(request))
}
