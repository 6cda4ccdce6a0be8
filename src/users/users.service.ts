import type { Kysely } from 'kysely'
import { v7 as uuidv7 } from 'uuid'
import type { PasswordHasher } from '../auth/passwords.js'
import { uniqueViolationConstraint } from '../db/errors.js'
import type { Database, NewUserRow, UserRow, UserUpdate } from '../db/types.js'
import { AppError } from '../errors.js'
import { revokeSessions } from '../auth/sessions.repository.js'
import { deleteUser, findUserById, insertUser, updateUser, type Executor } from './users.repository.js'

export interface NewUser {
  email: string
  username: string
  password: string
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

/** Account rules: registration, profile changes, password changes, deletion. */
export class UsersService {
  constructor (
    private readonly db: Kysely<Database>,
    private readonly passwords: PasswordHasher
  ) {}

  /**
   * Creates the account. `insert` stores the row (by default alone; registration stores the
   * first session with it, in the same statement); a taken email or username is a conflict
   * either way. Hashing happens first, holding no connection.
   */
  async register (input: NewUser, insert: (db: Executor, row: NewUserRow) => Promise<UserRow> = insertUser): Promise<UserRow> {
    const hashedPassword = await this.passwords.hash(input.password)
    try {
      return await insert(this.db, {
        id: uuidv7(),
        email: normalizeEmail(input.email),
        username: input.username,
        hashed_password: hashedPassword,
        full_name: input.full_name ?? null,
        roles: input.roles ?? ['user'],
        password_changed_at: new Date()
      })
    } catch (error) {
      throw conflictError(error) ?? error
    }
  }

  async findActiveUser (id: string): Promise<UserRow | undefined> {
    const user = await findUserById(this.db, id)
    return user?.is_active === true ? user : undefined
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
    try {
      const updated = await updateUser(this.db, user.id, update)
      if (updated === undefined) throw goneError()
      return updated
    } catch (error) {
      throw conflictError(error) ?? error
    }
  }

  /** Changes the password and ends every other session of the user; `keepSessionId` goes on. */
  async changePassword (user: UserRow, currentPassword: string, newPassword: string, keepSessionId?: string): Promise<void> {
    await this.requirePassword(user, currentPassword)
    const hashedPassword = await this.passwords.hash(newPassword)
    await this.db.transaction().execute(async (trx) => {
      const updated = await updateUser(trx, user.id, { hashed_password: hashedPassword, password_changed_at: new Date() })
      if (updated === undefined) throw goneError()
      await revokeSessions(trx, { userId: user.id, ...(keepSessionId === undefined ? {} : { exceptSessionId: keepSessionId }) }, 'password_changed')
    })
  }

  async deleteAccount (user: UserRow, password: string): Promise<void> {
    await this.requirePassword(user, password)
    if (!await deleteUser(this.db, user.id)) throw goneError()
  }

  private async requirePassword (user: UserRow, password: string): Promise<void> {
    const { ok } = await this.passwords.verifyOrDummy(user.hashed_password, password)
    if (!ok) throw new AppError('invalid_password', 'the password is not correct')
  }
}

function conflictError (error: unknown): AppError | undefined {
  const constraint = uniqueViolationConstraint(error)
  if (constraint === 'users_email_key') return new AppError('email_taken', 'an account with this email already exists')
  if (constraint === 'users_username_lower_key') return new AppError('username_taken', 'this username is already taken')
  return undefined
}

/** The account vanished between authentication and the write (deleted in a parallel request). */
function goneError (): AppError {
  return new AppError('invalid_token', 'the account no longer exists', { headers: { 'www-authenticate': 'Bearer error="invalid_token"' } })
}
