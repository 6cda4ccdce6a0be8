import type { Kysely } from 'kysely'
import { v7 as uuidv7 } from 'uuid'
import { uniqueViolationConstraint } from '../db/errors.js'
import type { Database, NewUserRow, UserRow, UserUpdate } from '../db/types.js'
import { AppError } from '../errors.js'
import { findUserById, insertUser, updateUser } from './users.repository.js'

/** A new account's data; its password is hashed by whoever creates it (src/auth). */
export interface NewAccount {
  email: string
  username: string
  full_name?: string | null | undefined
  roles?: string[]
}

export interface ProfileChanges {
  email?: string | undefined
  username?: string | undefined
  full_name?: string | null | undefined
}

export function normalizeEmail (email: string): string {
  return email.trim().toLowerCase()
}

/** The row that stores a new account: a time-ordered id, the email normalised, the default role. */
export function newUserRow (account: NewAccount, hashedPassword: string | null): NewUserRow {
  return {
    id: uuidv7(),
    email: normalizeEmail(account.email),
    username: account.username,
    hashed_password: hashedPassword,
    full_name: account.full_name ?? null,
    roles: account.roles ?? ['user'],
    password_changed_at: hashedPassword === null ? null : new Date()
  }
}

/** Accounts as data: creating, finding and changing profiles. Credentials are src/auth's. */
export class UsersService {
  constructor (private readonly db: Kysely<Database>) {}

  /** Stores a new account; a taken email or username is a conflict. */
  async create (row: NewUserRow): Promise<UserRow> {
    return insertUser(this.db, row).catch(throwAccountConflict)
  }

  /** A user as `viewer` may see it: their own account, or any account for an admin; else not_found. */
  async getVisibleUser (viewer: UserRow, id: string): Promise<UserRow> {
    const user = viewer.id === id ? viewer : viewer.roles.includes('admin') ? await findUserById(this.db, id) : undefined
    if (user === undefined) throw new AppError('not_found', 'no such user')
    return user
  }

  async updateProfile (user: UserRow, changes: ProfileChanges): Promise<UserRow> {
    const update: UserUpdate = {}
    if (changes.email !== undefined) update.email = normalizeEmail(changes.email)
    if (changes.username !== undefined) update.username = changes.username
    if (changes.full_name !== undefined) update.full_name = changes.full_name
    const updated = await updateUser(this.db, user.id, update).catch(throwAccountConflict)
    if (updated === undefined) throw accountGone()
    return updated
  }
}

/** Rethrows a unique violation on email or username as the conflict a client understands. */
export function throwAccountConflict (error: unknown): never {
  const constraint = uniqueViolationConstraint(error)
  if (constraint === 'users_email_key') throw new AppError('email_taken', 'an account with this email already exists')
  if (constraint === 'users_username_lower_key') throw new AppError('username_taken', 'this username is already taken')
  throw error
}

/** The account vanished between authentication and the write (deleted in a parallel request). */
export function accountGone (): AppError {
  return new AppError('invalid_token', 'the account no longer exists', { headers: { 'www-authenticate': 'Bearer error="invalid_token"' } })
}
