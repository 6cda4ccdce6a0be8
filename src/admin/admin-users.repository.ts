import { sql } from 'kysely'
import type { Executor, UserRow } from '../db/types.js'
import { USER_COLUMNS } from '../users/users.repository.js'
import { afterPosition, micros, type PagePosition } from '../db/pagination.js'

export interface UserFilter {
  /** The start of the email or the username, any case. */
  q?: string | undefined
  role?: string | undefined
  active?: boolean | undefined
}

/** A user row and its place in the newest-first order (creation time in microseconds, exact). */
export type ListedUser = UserRow & { position_micros: string }

/** LIKE's wildcards and escape taken literally. */
function escapeLike (text: string): string {
  return text.replace(/[\\%_]/g, (character) => `\\${character}`)
}

/**
 * A page of users, newest first, strictly after `after` in that order (keyset pagination on
 * creation time and id: stable under inserts, no duplicates or gaps). Fetches `limit` rows.
 */
export async function listUsers (db: Executor, filter: UserFilter, limit: number, after?: PagePosition): Promise<ListedUser[]> {
  let query = db.selectFrom('users')
    .select([...USER_COLUMNS, micros('created_at').as('position_micros')])
  if (filter.q !== undefined) {
    const prefix = `${escapeLike(filter.q.trim().toLowerCase())}%`
    query = query.where((eb) => eb.or([eb('email', 'like', prefix), eb(sql<string>`lower(username)`, 'like', prefix)]))
  }
  if (filter.role !== undefined) query = query.where(sql<boolean>`${filter.role} = any(roles)`)
  if (filter.active !== undefined) query = query.where('is_active', '=', filter.active)
  if (after !== undefined) {
    query = query.where(afterPosition('created_at', 'id', after))
  }
  return query.orderBy('created_at', 'desc').orderBy('id', 'desc').limit(limit).execute()
}

/**
 * Serialises every change that could take the last admin away, across instances, until the
 * transaction ends: two admins demoting each other at once are decided one after the other.
 */
export async function lockAdminChanges (trx: Executor): Promise<void> {
  await sql`select pg_advisory_xact_lock(hashtext('user-service:admins'))`.execute(trx)
}

/** Active admins other than `userId`. */
export async function countOtherActiveAdmins (db: Executor, userId: string): Promise<number> {
  const row = await db.selectFrom('users')
    .select((eb) => eb.fn.countAll<string>().as('count'))
    .where('is_active', '=', true)
    .where(sql<boolean>`'admin' = any(roles)`)
    .where('id', '<>', userId)
    .executeTakeFirstOrThrow()
  return Number(row.count)
}
