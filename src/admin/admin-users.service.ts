import type { Kysely } from 'kysely'
import type { PasswordPolicy } from '../auth/password-policy.js'
import type { PasswordHasher } from '../auth/passwords.js'
import { listLiveSessions, revokeSessions } from '../auth/sessions/sessions.repository.js'
import type { Database, Executor, SessionRow, UserRow, UserUpdate } from '../db/types.js'
import { AppError } from '../errors.js'
import { deleteUser, findUserById, insertUser, updateUser } from '../users/users.repository.js'
import { newUserRow, normalizeEmail, throwAccountConflict } from '../users/users.service.js'
import { countOtherActiveAdmins, listUsers, lockAdminChanges, type UserFilter } from './admin-users.repository.js'
import { decodeCursor, encodeCursor } from './cursor.js'

export interface NewAccountByAdmin {
  email: string
  username: string
  password?: string | undefined
  full_name?: string | null | undefined
  roles?: string[] | undefined
  is_active?: boolean | undefined
}

export interface AccountChanges {
  email?: string | undefined
  username?: string | undefined
  full_name?: string | null | undefined
  roles?: string[] | undefined
  is_active?: boolean | undefined
}

export interface UserPage {
  items: UserRow[]
  nextCursor: string | null
}

function isActiveAdmin (account: { is_active: boolean, roles: string[] }): boolean {
  return account.is_active && account.roles.includes('admin')
}

function noSuchUser (): AppError {
  return new AppError('not_found', 'no such user')
}

/**
 * What an admin does to accounts (DESIGN "Administration"). The last active admin cannot be
 * disabled, demoted or deleted; disabling an account or resetting its password ends every
 * session of it in the same transaction.
 */
export class AdminUsersService {
  constructor (
    private readonly db: Kysely<Database>,
    private readonly passwords: PasswordHasher,
    private readonly policy: PasswordPolicy,
    private readonly idleDays: number
  ) {}

  async list (filter: UserFilter, limit: number, cursor?: string): Promise<UserPage> {
    const rows = await listUsers(this.db, filter, limit + 1, cursor === undefined ? undefined : decodeCursor(cursor))
    const items = rows.slice(0, limit)
    const last = items.at(-1)
    const nextCursor = rows.length > limit && last !== undefined ? encodeCursor({ createdMicros: last.created_micros, id: last.id }) : null
    return { items: items.map(({ created_micros: _position, ...user }) => user), nextCursor }
  }

  async get (id: string): Promise<UserRow> {
    const user = await findUserById(this.db, id)
    if (user === undefined) throw noSuchUser()
    return user
  }

  /** A new account; without a password it cannot sign in with one until an admin sets it. */
  async create (input: NewAccountByAdmin): Promise<UserRow> {
    if (input.password !== undefined) this.policy.check(input.password, input)
    const hashed = input.password === undefined ? null : await this.passwords.hash(input.password)
    const row = { ...newUserRow(input, hashed), ...(input.is_active === undefined ? {} : { is_active: input.is_active }) }
    return insertUser(this.db, row).catch(throwAccountConflict)
  }

  async update (id: string, changes: AccountChanges): Promise<UserRow> {
    return this.db.transaction().execute(async (trx) => {
      const user = await this.#lockedUser(trx, id)
      await this.#keepAnAdmin(trx, user, { roles: changes.roles ?? user.roles, is_active: changes.is_active ?? user.is_active })
      const update: UserUpdate = { ...changes, ...(changes.email === undefined ? {} : { email: normalizeEmail(changes.email) }) }
      const updated = await updateUser(trx, id, update).catch(throwAccountConflict)
      if (updated === undefined) throw noSuchUser()
      if (changes.is_active === false) await revokeSessions(trx, { userId: id }, 'account_disabled')
      return updated
    })
  }

  async delete (id: string): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      const user = await this.#lockedUser(trx, id)
      await this.#keepAnAdmin(trx, user, null)
      if (!await deleteUser(trx, id)) throw noSuchUser()
    })
  }

  /** Sets a new password (the policy applies) and ends every session of the account. */
  async setPassword (id: string, newPassword: string): Promise<void> {
    const user = await this.get(id)
    this.policy.check(newPassword, user, '/new_password')
    const hashed = await this.passwords.hash(newPassword)
    await this.db.transaction().execute(async (trx) => {
      const updated = await updateUser(trx, id, { hashed_password: hashed, password_changed_at: new Date() })
      if (updated === undefined) throw noSuchUser()
      await revokeSessions(trx, { userId: id }, 'password_reset')
    })
  }

  async sessions (id: string): Promise<SessionRow[]> {
    await this.get(id)
    return listLiveSessions(this.db, id, this.idleDays)
  }

  /** Ends every session of the account; returns how many were live. */
  async endSessions (id: string): Promise<number> {
    await this.get(id)
    return revokeSessions(this.db, { userId: id }, 'ended_by_admin')
  }

  async #lockedUser (trx: Executor, id: string): Promise<UserRow> {
    await lockAdminChanges(trx)
    const user = await findUserById(trx, id)
    if (user === undefined) throw noSuchUser()
    return user
  }

  /** Refuses a change that leaves no active admin (`after` null: the account goes). */
  async #keepAnAdmin (trx: Executor, user: UserRow, after: { roles: string[], is_active: boolean } | null): Promise<void> {
    if (!isActiveAdmin(user) || (after !== null && isActiveAdmin(after))) return
    if (await countOtherActiveAdmins(trx, user.id) === 0) {
      throw new AppError('last_admin', 'this is the last active admin: make another account an active admin first')
    }
  }
}
