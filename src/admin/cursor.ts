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
