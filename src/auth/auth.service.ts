import type { Kysely } from 'kysely'
import type { AuditLog } from '../audit/audit-log.js'
import { eventBy } from '../audit/events.js'
import type { Database, UserRow } from '../db/types.js'
import { AppError } from '../errors.js'
import type { TokenResponseType } from '../schemas/auth.js'
import { deleteUser, findUserByLogin, updateUser } from '../users/users.repository.js'
import { accountGone, newUserRow, throwAccountConflict, type NewAccount } from '../users/users.service.js'
import { loginFailed, loginThrottled } from './login-audit.js'
import { LoginThrottledError, type LoginThrottle } from './login-throttle.js'
import type { PasswordPolicy } from './password-policy.js'
import type { PasswordHasher } from './passwords.js'
import { revokeSessions } from './sessions/sessions.repository.js'
import { clientSource, type ClientContext, type SessionsService } from './sessions/sessions.service.js'
import type { TokenService } from './tokens.js'

/** Where sign-in outcomes are reported (the metrics), if anywhere. */
export interface LoginObserver {
  /** `failure`: wrong credentials or a disabled account, not an outage or a bad request. */
  login: (result: 'success' | 'failure') => void
}

/** Credentials: registration, signing in, password changes and account deletion, with the sessions that go with them. */
export class AuthService {
  constructor (
    private readonly db: Kysely<Database>,
    private readonly passwords: PasswordHasher,
    private readonly policy: PasswordPolicy,
    private readonly tokens: TokenService,
    private readonly sessions: SessionsService,
    private readonly throttle: LoginThrottle,
    private readonly audit: AuditLog,
    private readonly observer?: LoginObserver
  ) {}

  /** Creates the account and its first session in one statement; hashing happens first, holding no connection. */
  async register (input: NewAccount & { password: string }, context: ClientContext): Promise<{ user: UserRow, tokens: TokenResponseType }> {
    this.policy.check(input.password, input)
    const account = newUserRow(input, await this.passwords.hash(input.password))
    const { user, sessionId, refreshToken } = await this.sessions.startForNewAccount(account, context).catch(throwAccountConflict)
    await this.throttle.trust(user, context.ip)
    return { user, tokens: { ...await this.tokens.issueAccessToken(user, sessionId), refresh_token: refreshToken } }
  }

  /** Starts a session for `user`: an access token bound to it and its first refresh token. */
  async signIn (user: UserRow, context: ClientContext): Promise<TokenResponseType> {
    const { sessionId, refreshToken } = await this.sessions.start(user.id, context)
    return { ...await this.tokens.issueAccessToken(user, sessionId), refresh_token: refreshToken }
  }

  /** Rotates a refresh token (RFC 6749 §6) and issues a new access token for its session. */
  async refresh (refreshToken: string, context: ClientContext): Promise<TokenResponseType> {
    const { sessionId, refreshToken: successor, user } = await this.sessions.refresh(refreshToken, context)
    return { ...await this.tokens.issueAccessToken(user, sessionId), refresh_token: successor }
  }

  /**
   * Returns the user whose email or username (any case) is `login` and whose password is
   * `password`. Throws `too_many_requests` (before any lookup or hashing) while the login is
   * throttled for this address, `invalid_credentials`, or `account_disabled` once the
   * password is known to be right. Each refusal is an audit event (login, throttled or failure) of its own.
   */
  async verifyCredentials (login: string, password: string, context: ClientContext): Promise<UserRow> {
    const attempt = await this.throttle.begin(login, context.ip).catch(async (error: unknown) => this.throttled(error, context))
    const { user, ok, needsRehash } = await this.checkPassword(login, password)
      .catch(async (error: unknown) => { attempt.released(); throw error })
    if (user === undefined || !ok) {
      attempt.failed()
      this.observer?.login('failure')
      await this.audit.record(loginFailed(user, ok, context))
      throw new AppError('invalid_credentials', 'the login or the password is not correct')
    }
    if (!user.is_active) {
      attempt.released()
      this.observer?.login('failure')
      await this.audit.record(loginFailed(user, ok, context))
      throw new AppError('account_disabled', 'this account is disabled')
    }
    attempt.succeeded(user)
    this.observer?.login('success')
    // Re-hashed at today's parameters (and in NFKC); the password itself does not change.
    if (needsRehash) await updateUser(this.db, user.id, { hashed_password: await this.passwords.hash(password) })
    return user
  }

  /**
   * Records a refusal by the login throttling as its audit event (the first of its kind in a
   * minute: a flood of refusals must not become a flood of rows), and passes it on.
   */
  private async throttled (error: unknown, context: ClientContext): Promise<never> {
    if (error instanceof LoginThrottledError && error.firstReport) {
      await this.audit.record(loginThrottled(context, error.rule, error.retryAfterSeconds))
    }
    throw error
  }

  private async checkPassword (login: string, password: string): Promise<{ user: UserRow | undefined, ok: boolean, needsRehash: boolean }> {
    const user = await findUserByLogin(this.db, login)
    return { user, ...await this.passwords.verifyOrDummy(user?.hashed_password, password) }
  }

  /** Changes the password and ends every other session of the user; `keepSessionId` goes on. One transaction with its audit event. */
  async changePassword (user: UserRow, currentPassword: string, newPassword: string, context: ClientContext, keepSessionId?: string): Promise<void> {
    // Before the current password is verified: a refused new one costs no hashing.
    this.policy.check(newPassword, user, '/new_password')
    await this.requirePassword(user, currentPassword)
    const hashedPassword = await this.passwords.hash(newPassword)
    await this.audit.transaction(async (trx, record) => {
      const updated = await updateUser(trx, user.id, { hashed_password: hashedPassword, password_changed_at: new Date() })
      if (updated === undefined) throw accountGone()
      const ended = await revokeSessions(trx, { userId: user.id, ...(keepSessionId === undefined ? {} : { exceptSessionId: keepSessionId }) }, 'password_changed')
      await record(eventBy(clientSource(user.id, context), { action: 'password_changed', outcome: 'success' }, user.id, { sessions_ended: ended.length }))
    })
  }

  /** Deletes the account, its sessions with it; needs the password. One transaction with its audit event. */
  async deleteAccount (user: UserRow, password: string, context: ClientContext): Promise<void> {
    await this.requirePassword(user, password)
    await this.audit.transaction(async (trx, record) => {
      if (!await deleteUser(trx, user.id)) throw accountGone()
      await record(eventBy(clientSource(user.id, context), { action: 'account_deleted', outcome: 'success' }, user.id))
    })
  }

  private async requirePassword (user: UserRow, password: string): Promise<void> {
    if (user.hashed_password === null) {
      throw new AppError('no_password', 'this account has no password: it signs in through an identity provider; an admin can set one (a password reset)')
    }
    const { ok } = await this.passwords.verifyOrDummy(user.hashed_password, password)
    if (!ok) throw new AppError('invalid_password', 'the password is not correct')
  }
}
