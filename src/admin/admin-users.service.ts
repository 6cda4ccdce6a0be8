import type { Kysely } from 'kysely'
import type { AuditLog } from '../audit/audit-log.js'
import { eventBy, type AuditSource } from '../audit/events.js'
import type { PasswordPolicy } from '../auth/password-policy.js'
import type { PasswordHasher } from '../auth/passwords.js'
import { listLiveSessions, revokeSessions } from '../auth/sessions/sessions.repository.js'
import type { Database, Executor, SessionRow, UserRow, UserUpdate } from '../db/types.js'
import { AppError } from '../errors.js'
import { deleteUser, findUserById, insertUser, updateUser } from '../users/users.repository.js'
import { newUserRow, normalizeEmail, throwAccountConflict } from '../users/users.service.js'
import { countOtherActiveAdmins, listUsers, lockAdminChanges, type UserFilter } from './admin-users.repository.js'
import { decodeCursor, toPage } from '../db/pagination.js'

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

function sameRoles (a: string[], b: string[]): boolean {
  return a.length === b.length && a.every((role) => b.includes(role))
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
    private readonly audit: AuditLog,
    private readonly passwords: PasswordHasher,
    private readonly policy: PasswordPolicy,
    private readonly idleDays: number
  ) {}

  async list (filter: UserFilter, limit: number, cursor?: string): Promise<UserPage> {
    const rows = await listUsers(this.db, filter, limit + 1, cursor === undefined ? undefined : decodeCursor(cursor))
    return toPage(rows, limit, (row) => row.id)
  }

  async get (id: string): Promise<UserRow> {
    const user = await findUserById(this.db, id)
    if (user === undefined) throw noSuchUser()
    return user
  }

  /** A new account; without a password it cannot sign in with one until an admin sets it. */
  async create (source: AuditSource, input: NewAccountByAdmin): Promise<UserRow> {
    if (input.password !== undefined) this.policy.check(input.password, input)
    const hashed = input.password === undefined ? null : await this.passwords.hash(input.password)
    const row = { ...newUserRow(input, hashed), ...(input.is_active === undefined ? {} : { is_active: input.is_active }) }
    return this.audit.transaction(async (trx, record) => {
      const user = await insertUser(trx, row).catch(throwAccountConflict)
      await record(eventBy(source, { action: 'register', outcome: 'success' }, user.id, { roles: user.roles, is_active: user.is_active }))
      return user
    })
  }

  /** Changes the account; roles and enabling or disabling it are audit events, made with the change. */
  async update (source: AuditSource, id: string, changes: AccountChanges): Promise<UserRow> {
    return this.audit.transaction(async (trx, record) => {
      const user = await this.#lockedUser(trx, id)
      await this.#keepAnAdmin(trx, user, { roles: changes.roles ?? user.roles, is_active: changes.is_active ?? user.is_active })
      const update: UserUpdate = { ...changes, ...(changes.email === undefined ? {} : { email: normalizeEmail(changes.email) }) }
      const updated = await updateUser(trx, id, update).catch(throwAccountConflict)
      if (updated === undefined) throw noSuchUser()
      if (!sameRoles(user.roles, updated.roles)) {
        await record(eventBy(source, { action: 'roles_changed', outcome: 'success' }, id, { from: user.roles, to: updated.roles }))
      }
      if (user.is_active && !updated.is_active) {
        const ended = await revokeSessions(trx, { userId: id }, 'account_disabled')
        await record(eventBy(source, { action: 'account_disabled', outcome: 'success' }, id, { sessions_ended: ended.length }))
      }
      if (!user.is_active && updated.is_active) await record(eventBy(source, { action: 'account_enabled', outcome: 'success' }, id))
      return updated
    })
  }

  async delete (source: AuditSource, id: string): Promise<void> {
    await this.audit.transaction(async (trx, record) => {
      const user = await this.#lockedUser(trx, id)
      await this.#keepAnAdmin(trx, user, null)
      if (!await deleteUser(trx, id)) throw noSuchUser()
      await record(eventBy(source, { action: 'account_deleted', outcome: 'success' }, id))
    })
  }

  /** Sets a new password (the policy applies) and ends every session of the account. */
  async setPassword (source: AuditSource, id: string, newPassword: string): Promise<void> {
    const user = await this.get(id)
    this.policy.check(newPassword, user, '/new_password')
    const hashed = await this.passwords.hash(newPassword)
    await this.audit.transaction(async (trx, record) => {
      const updated = await updateUser(trx, id, { hashed_password: hashed, password_changed_at: new Date() })
      if (updated === undefined) throw noSuchUser()
      const ended = await revokeSessions(trx, { userId: id }, 'password_reset')
      await record(eventBy(source, { action: 'password_changed', outcome: 'success' }, id, { reset: true, sessions_ended: ended.length }))
    })
  }

  async sessions (id: string): Promise<SessionRow[]> {
    await this.get(id)
    return listLiveSessions(this.db, id, this.idleDays)
  }

  /** Ends every session of the account; returns how many were live. */
  async endSessions (source: AuditSource, id: string): Promise<number> {
    await this.get(id)
    return this.audit.transaction(async (trx, record) => {
      const ended = await revokeSessions(trx, { userId: id }, 'ended_by_admin')
      if (ended.length > 0) await record(eventBy(source, { action: 'session_revoked', outcome: 'success' }, id, { all: true, sessions_ended: ended.length }))
      return ended.length
    })
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
