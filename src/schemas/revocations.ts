import { Type } from '@sinclair/typebox'
import { PAGE_LIMIT } from './admin.js'
import { Uuid } from './common.js'

export const RevocationQuery = Type.Object({
  since: Type.Optional(Type.String({ maxLength: 32, description: 'The `next_cursor` of the previous page; none: from the oldest entry the feed holds' })),
  limit: Type.Optional(PAGE_LIMIT)
}, { additionalProperties: false })

export const RevocationStreamQuery = Type.Object({
  since: Type.Optional(Type.String({ maxLength: 32, description: 'Where to start when there is no `Last-Event-ID`: a cursor (a page\'s `next_cursor`, an event\'s `id`); none: from the oldest entry kept' }))
}, { additionalProperties: false })

/** Request headers are an open set: only Last-Event-ID is described (and bounded). */
export const LastEventIdHeader = Type.Object({
  'last-event-id': Type.Optional(Type.String({ maxLength: 32, description: 'The `id` of the last event received: the stream resumes after it (EventSource sends it when it reconnects)' }))
})

export const RevocationEntry = Type.Object({
  sid: Type.Union([Uuid, Type.Null()], { description: 'The session that ended; null when the whole account was disabled or deleted' }),
  sub: Uuid,
  revoked_at: Type.String({ format: 'date-time' })
}, { additionalProperties: false })

export const RevocationPage = Type.Object({
  items: Type.Array(RevocationEntry, { description: 'Oldest first' }),
  next_cursor: Type.String({ description: 'Where to resume (`?since=`); never null: with no new entry, the position given' })
}, { $id: 'RevocationPage', title: 'RevocationPage', additionalProperties: false })
