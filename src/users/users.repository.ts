import { sql } from 'kysely'
import { PrecompiledQuery } from '../db/precompiled.js'
import type { Executor, NewUserRow, UserRow, UserUpdate } from '../db/types.js'

/** Every column of users, listed: a prepared statement must not select `*` (see db/prepared-statements.ts). */
export const USER_COLUMNS = [
  'id', 'email', 'username', 'hashed_password', 'full_name', 'is_active', 'roles', 'password_changed_at', 'created_at', 'updated_at'
] as const satisfies ReadonlyArray<keyof UserRow>

export async function findUserById (db: Executor, id: string): Promise<UserRow | undefined> {
  return db.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirst()
}

// The lookups of a login, precompiled and prepared: a login storm runs them while argon2
// keeps both cores busy, when planning each one anew costs several times more.
const userByEmail = new PrecompiledQuery((db, email: string) => db.selectFrom('users')
  .select(USER_COLUMNS)
  .where('email', '=', email), ['\u0000email'])

const userByUsername = new PrecompiledQuery((db, username: string) => db.selectFrom('users')
  .select(USER_COLUMNS)
  .where(sql<string>`lower(username)`, '=', username), ['\u0000username'])

/** A login as the lookup reads it: the same account for every spelling that finds it. */
export function normalizeLogin (login: string): string {
  return login.trim().toLowerCase()
}

/** Finds by email when `login` has an @ (emails are stored lower-cased), else by username, ignoring case. */
export async function findUserByLogin (db: Executor, login: string): Promise<UserRow | undefined> {
  const normalized = normalizeLogin(login)
  const [user] = await (normalized.includes('@') ? userByEmail : userByUsername).execute(db, normalized)
  return user
}

export async function insertUser (db: Executor, row: NewUserRow): Promise<UserRow> {
  return db.insertInto('users').values(row).returningAll().executeTakeFirstOrThrow()
}

export async function updateUser (db: Executor, id: string, changes: UserUpdate): Promise<UserRow | undefined> {
  return db.updateTable('users').set(changes).where('id', '=', id).returningAll().executeTakeFirst()
}

export async function deleteUser (db: Executor, id: string): Promise<boolean> {
  const result = await db.deleteFrom('users').where('id', '=', id).executeTakeFirst()
  return result.numDeletedRows > 0n
}
