import { Type, type Static } from '@sinclair/typebox'
import { PageCursor, PAGE_LIMIT } from './admin.js'
import { Uuid } from './common.js'

const NullableText = Type.Union([Type.String(), Type.Null()])

export const AuditEventRead = Type.Object({
  id: Uuid,
  at: Type.String({ format: 'date-time' }),
  action: Type.String({ examples: ['account_disabled'] }),
  outcome: Type.String({ description: 'success, failure or throttled', examples: ['success'] }),
  actor_user_id: Type.Union([Uuid, Type.Null()], { description: 'Who did it: null for the anonymous and the CLI' }),
  subject_user_id: Type.Union([Uuid, Type.Null()], { description: 'The account it was done to' }),
  client_id: NullableText,
  ip: NullableText,
  user_agent: NullableText,
  request_id: NullableText,
  details: Type.Object({}, { additionalProperties: true, description: 'Facts about the event; never a password, a token or a login as typed' })
}, { $id: 'AuditEventRead', title: 'AuditEventRead', additionalProperties: false })
export type AuditEventReadType = Static<typeof AuditEventRead>

export const AuditEventPage = Type.Object({
  items: Type.Array(Type.Ref(AuditEventRead), { description: 'Newest first' }),
  next_cursor: Type.Union([Type.String(), Type.Null()])
}, { $id: 'AuditEventPage', title: 'AuditEventPage', additionalProperties: false })

export function auditQuery (actions: readonly string[]) {
  return Type.Object({
    user_id: Type.Optional(Type.String({ format: 'uuid', description: 'Events done by or to this account' })),
    action: Type.Optional(Type.Union(actions.map((action) => Type.Literal(action)))),
    since: Type.Optional(Type.String({ format: 'date-time', description: 'Events at or after this moment (RFC 3339)' })),
    limit: Type.Optional(PAGE_LIMIT),
    cursor: Type.Optional(PageCursor)
  }, { additionalProperties: false })
}

interface AuditEventFields extends Omit<AuditEventReadType, 'at' | 'details'> {
  at: Date
  details: Record<string, unknown>
}

export function toAuditEventRead (event: AuditEventFields): AuditEventReadType {
  return {
    id: event.id,
    at: event.at.toISOString(),
    action: event.action,
    outcome: event.outcome,
    actor_user_id: event.actor_user_id,
    subject_user_id: event.subject_user_id,
    client_id: event.client_id,
    ip: event.ip,
    user_agent: event.user_agent,
    request_id: event.request_id,
    details: event.details
  }
}
