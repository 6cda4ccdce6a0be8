import { Type, type Static } from '@sinclair/typebox'
import type { SessionRow } from '../db/types.js'
import { Uuid } from './common.js'

export const SessionRead = Type.Object({
  id: Uuid,
  current: Type.Boolean({ description: 'The session of the access token making this request' }),
  created_at: Type.String({ format: 'date-time' }),
  last_used_at: Type.String({ format: 'date-time' }),
  expires_at: Type.String({ format: 'date-time' }),
  user_agent: Type.Union([Type.String(), Type.Null()]),
  ip: Type.Union([Type.String(), Type.Null()])
}, { $id: 'SessionRead', title: 'SessionRead', additionalProperties: false })
export type SessionReadType = Static<typeof SessionRead>

export const LogoutBody = Type.Object({
  all: Type.Optional(Type.Boolean({ description: 'End every session of the account, not only this one' }))
}, { additionalProperties: false })

export function toSessionRead (session: SessionRow, currentSessionId: string | null): SessionReadType {
  return {
    id: session.id,
    current: session.id === currentSessionId,
    created_at: session.created_at.toISOString(),
    last_used_at: session.last_used_at.toISOString(),
    expires_at: session.expires_at.toISOString(),
    user_agent: session.user_agent,
    ip: session.ip
  }
}
