import { createHash, randomBytes } from 'node:crypto'
import type { Kysely } from 'kysely'
import { v7 as uuidv7 } from 'uuid'
import type { Config } from '../../config.js'
import type { Database, NewUserRow, SessionRow, UserRow } from '../../db/types.js'
import { AppError } from '../../errors.js'
import {
  findSession, findSessionIdOfRefreshToken, insertSessionWithRefreshToken, insertUserWithSession, listLiveSessions, pruneSessions,
  revokeSessions, rotateRefreshToken, type PendingSession, type RotationOutcome
} from './sessions.repository.js'

/** Who is on the other end of a request, as far as a session list should show it. */
export interface ClientContext {
  userAgent: string | null
  ip: string | null
}

export interface IssuedRefreshToken {
  sessionId: string
  refreshToken: string
}

const DAY_MS = 24 * 60 * 60 * 1000

/** Opaque refresh tokens carry 256 bits of randomness; only their SHA-256 is stored. */
export function newRefreshToken (): string {
  return randomBytes(32).toString('base64url')
}

export function hashRefreshToken (token: string): string {
  return createHash('sha256').update(token).digest('base64url')
}

function invalidGrant (detail: string): AppError {
  return new AppError('invalid_grant', detail)
}

const REFUSALS: Record<Exclude<RotationOutcome, 'rotated'>, string> = {
  already_used: 'the refresh token was already used',
  reused: 'the refresh token was already used; the session has been ended for safety',
  ended: 'the session of this refresh token has ended',
  disabled: 'this account is disabled',
  expired: 'the session has expired'
}

/**
 * Sessions and refresh-token rotation (RFC 9700 §4.14): every refresh replaces the token; a
 * replaced token presented again within the grace window is a client's parallel request and
 * is refused without harm, after it is theft and ends the whole session.
 */
export class SessionsService {
  constructor (
    private readonly db: Kysely<Database>,
    private readonly settings: Config['sessions']
  ) {}

  /** Starts a session for an existing account: the session and its first refresh token in one statement. */
  async start (userId: string, context: ClientContext): Promise<IssuedRefreshToken> {
    const { session, refreshToken } = this.#prepare(context)
    await insertSessionWithRefreshToken(this.db, { ...session, userId }, hashRefreshToken(refreshToken))
    return { sessionId: session.id, refreshToken }
  }

  /** Stores a new account with its first session and that session's refresh token, in one statement. */
  async startForNewAccount (account: NewUserRow, context: ClientContext): Promise<IssuedRefreshToken & { user: UserRow }> {
    const { session, refreshToken } = this.#prepare(context)
    const user = await insertUserWithSession(this.db, account, session, hashRefreshToken(refreshToken))
    return { user, sessionId: session.id, refreshToken }
  }

  #prepare (context: ClientContext): { session: PendingSession, refreshToken: string } {
    return {
      session: {
        id: uuidv7(),
        expiresAt: new Date(Date.now() + this.settings.absoluteDays * DAY_MS),
        userAgent: context.userAgent,
        ip: context.ip
      },
      refreshToken: newRefreshToken()
    }
  }

  /** Rotates `refreshToken`; returns the successor token and the session's user. */
  async refresh (refreshToken: string, context: ClientContext): Promise<IssuedRefreshToken & { user: { id: string, roles: string[] } }> {
    const successor = newRefreshToken()
    const rotation = await rotateRefreshToken(this.db, hashRefreshToken(refreshToken), hashRefreshToken(successor), context, this.settings)
    if (rotation === undefined) throw invalidGrant('the refresh token is not valid')
    if (rotation.outcome !== 'rotated') throw invalidGrant(REFUSALS[rotation.outcome])
    return { sessionId: rotation.session_id, refreshToken: successor, user: { id: rotation.user_id, roles: rotation.roles } }
  }

  /** Ends the session of a refresh token, if it is one of ours (RFC 7009: unknown tokens are fine). */
  async revokeByRefreshToken (refreshToken: string): Promise<boolean> {
    const sessionId = await findSessionIdOfRefreshToken(this.db, hashRefreshToken(refreshToken))
    if (sessionId === undefined) return false
    await revokeSessions(this.db, { sessionId }, 'revoked')
    return true
  }

  async end (sessionId: string, reason: string): Promise<void> {
    await revokeSessions(this.db, { sessionId }, reason)
  }

  async endAll (userId: string, reason: string): Promise<number> {
    return revokeSessions(this.db, { userId }, reason)
  }

  /** Ends one of the user's own live sessions; someone else's (or an ended one) is not found. */
  async endOwn (userId: string, sessionId: string): Promise<void> {
    const session = await findSession(this.db, sessionId)
    if (session === undefined || session.user_id !== userId || session.revoked_at !== null) {
      throw new AppError('not_found', 'no such session')
    }
    await revokeSessions(this.db, { sessionId }, 'ended_by_user')
  }

  async list (userId: string): Promise<SessionRow[]> {
    return listLiveSessions(this.db, userId, this.settings.idleDays)
  }

  /** Deletes ended sessions; null when another instance is pruning right now. */
  async prune (): Promise<{ sessions: number } | null> {
    return this.db.transaction().execute((trx) => pruneSessions(trx, this.settings.idleDays))
  }
}
