import type { Kysely } from 'kysely'
import type { Database, UserRow } from '../db/types.js'
import { AppError } from '../errors.js'
import type { TokenResponseType } from '../schemas/auth.js'
import type { NewUser, UsersService } from '../users/users.service.js'
import { findUserByLogin, updateUser } from '../users/users.repository.js'
import type { PasswordHasher } from './passwords.js'
import type { ClientContext, SessionsService } from './sessions.service.js'
import type { TokenService } from './tokens.js'

/** Signing in: password checks, sessions and the tokens that go with them. */
export class AuthService {
  constructor (
    private readonly db: Kysely<Database>,
    private readonly passwords: PasswordHasher,
    private readonly tokens: TokenService,
    private readonly sessions: SessionsService
  ) {}

  /** Registers an account and starts its first session, in one statement. */
  async register (users: UsersService, input: NewUser, context: ClientContext): Promise<{ user: UserRow, tokens: TokenResponseType }> {
    const firstSession = this.sessions.firstSessionFor(context)
    const user = await users.register(input, firstSession.insert)
    const { sessionId, refreshToken } = firstSession.issued
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
   * `password`. Throws `invalid_credentials`, or `account_disabled` once the password is
   * known to be right.
   */
  async verifyCredentials (login: string, password: string): Promise<UserRow> {
    const user = await findUserByLogin(this.db, login)
    const { ok, needsRehash } = await this.passwords.verifyOrDummy(user?.hashed_password, password)
    if (user === undefined || !ok) throw new AppError('invalid_credentials', 'the login or the password is not correct')
    if (!user.is_active) throw new AppError('account_disabled', 'this account is disabled')
    if (needsRehash) await this.upgradeHash(user, password)
    return user
  }

  /** Re-hashes at today's parameters; the stored password itself does not change. */
  private async upgradeHash (user: UserRow, password: string): Promise<void> {
    const hashed = await this.passwords.hash(password)
    await updateUser(this.db, user.id, { hashed_password: hashed })
  }
}
