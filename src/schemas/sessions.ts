import { Type, type Static } from '@sinclair/typebox'
import { Uuid } from './common.js'

export const SessionRead = Type.Object({
  id: Uuid,
  current: Type.Boolean({ description: 'The session of the access token making this request' }),
  created_at: Type.String({ format: 'date-time', examples: ['2026-11-22T09:41:07.123Z'] }),
  last_used_at: Type.String({ format: 'date-time', examples: ['2026-11-23T17:02:51.408Z'] }),
  expires_at: Type.String({ format: 'date-time', examples: ['2026-12-22T09:41:07.123Z'] }),
  user_agent: Type.Union([Type.String(), Type.Null()], { examples: ['Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0'] }),
  ip: Type.Union([Type.String(), Type.Null()], { examples: ['203.0.113.7'] })
}, { $id: 'SessionRead', title: 'SessionRead', additionalProperties: false })
export type SessionReadType = Static<typeof SessionRead>

export const LogoutBody = Type.Object({
  all: Type.Optional(Type.Boolean({ description: 'End every session of the account, not only this one' }))
}, { additionalProperties: false })

/** What a session's view is made from: its fields, with the moments as dates (a session row is one). */
type SessionFields = Omit<SessionReadType, 'current' | 'created_at' | 'last_used_at' | 'expires_at'> &
{ created_at: Date, last_used_at: Date, expires_at: Date }

export function toSessionRead (session: SessionFields, currentSessionId: string | null): SessionReadType {
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
