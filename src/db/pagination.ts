import { sql, type RawBuilder } from 'kysely'
import { AppError } from '../errors.js'

/** Where a page ended: the last row's time (microseconds since the epoch, as PostgreSQL keeps it) and id. */
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

/** A row's time in `column` as microseconds since the epoch, exact (a JavaScript Date keeps only milliseconds). */
export function micros (column: 'created_at' | 'at'): RawBuilder<string> {
  return sql<string>`(extract(epoch from ${sql.ref(column)}) * 1000000)::bigint::text`
}

/** Rows after `position` in the newest-first order of (`timeColumn`, `idColumn`). */
export function afterPosition (timeColumn: 'created_at' | 'at', idColumn: string, position: PagePosition): RawBuilder<boolean> {
  return sql<boolean>`(${sql.ref(timeColumn)}, ${sql.ref(idColumn)}) < (timestamptz 'epoch' + ${position.createdMicros}::bigint * interval '1 microsecond', ${position.id}::uuid)`
}

/** A page of `limit` out of `rows` (fetched with one more): its items without their positions, and the cursor of the next page. */
export function toPage<T extends { position_micros: string }> (rows: T[], limit: number, idOf: (row: T) => string): { items: Array<Omit<T, 'position_micros'>>, nextCursor: string | null } {
  const items = rows.slice(0, limit)
  const last = items.at(-1)
  const nextCursor = rows.length > limit && last !== undefined ? encodeCursor({ createdMicros: last.position_micros, id: idOf(last) }) : null
  return { items: items.map(({ position_micros: _position, ...item }) => item), nextCursor }
}
