import { sql, type RawBuilder } from 'kysely'
import { AppError } from '../errors.js'

/** Where a page ended: the last row's creation time (microseconds since the epoch, as PostgreSQL keeps it) and id. */
export interface PagePosition {
  createdMicros: string
  id: string
}

const POSITION = /^(\d{1,20})\.([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$/

/** An opaque cursor: clients pass it back as it came and never build one. */
export function encodeCursor (position: PagePosition): string {
  return Buffer.from(`${position.createdMicros}.${position.id}`).toString('base64url')
}

/** The position a cursor names; a cursor that is not one of ours is a 400, never a 500. */
export function decodeCursor (cursor: string): PagePosition {
  const match = POSITION.exec(Buffer.from(cursor, 'base64url').toString('latin1'))
  if (match === null || match[1] === undefined || match[2] === undefined) {
    throw new AppError('validation_failed', 'cursor is not a cursor this service gave out', {
      errors: [{ path: '/querystring/cursor', message: 'is not a cursor this service gave out; start again without one' }]
    })
  }
  return { createdMicros: match[1], id: match[2] }
}

/** A row's creation time in microseconds since the epoch, exact (a JavaScript Date keeps only milliseconds). */
export const createdMicros: RawBuilder<string> = sql<string>`(extract(epoch from created_at) * 1000000)::bigint::text`

/** Rows after `position` in the newest-first order of (created_at, `idColumn`). */
export function afterPosition (idColumn: string, position: PagePosition): RawBuilder<boolean> {
  return sql<boolean>`(created_at, ${sql.ref(idColumn)}) < (timestamptz 'epoch' + ${position.createdMicros}::bigint * interval '1 microsecond', ${position.id}::uuid)`
}
