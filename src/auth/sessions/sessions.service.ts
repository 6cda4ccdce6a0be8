import { createHash, randomBytes } from 'node:crypto'
import type { Kysely } from 'kysely'
import { v7 as uuidv7 } from 'uuid'
import type { AuditLog } from '../../audit/audit-log.js'
import { eventBy, type AuditDetails, type AuditKind, type AuditSource } from '../../audit/events.js'
import type { Config } from '../../config.js'
import type { Database, NewUserRow, SessionRow, UserRow } from '../../db/types.js'
import { AppError } from '../../errors.js'
import {
  findSession, findSessionIdOfRefreshToken, findUserWithSession, insertSessionWithRefreshToken, insertUserWithSession, listLiveSessions,
  pruneSessions, revokeSessions, rotateRefreshToken, type PendingSession, type RevokeFilter, type RotationOutcome, type UserWithSession
} from './sessions.repository.js'

/** Who is on the other end of a request, as far as a session list and the audit events show it. */
export interface ClientContext {
  userAgent: string | null
  ip: string | null
  /** The request's id (X-Request-ID), for the audit events it writes. */
  requestId: string | null
}

const LOGOUT: AuditKind = { action: 'logout', outcome: 'success' }

/** A request's client as the source of an audit event: `userId` when it is signed in. */
export function clientSource (userId: string | null, context: ClientContext): AuditSource {
  return { actorUserId: userId, origin: context, details: {} }
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
    private readonly settings: Config['sessions'],
    private readonly audit: AuditLog
  ) {}

  /** Starts a session for an existing account: the session and its first refresh token in one statement. */
  async start (userId: string, context: ClientContext): Promise<IssuedRefreshToken> {
    const { session, refreshToken } = this.#prepare(context)
    await insertSessionWithRefreshToken(this.db, { ...session, userId }, hashRefreshToken(refreshToken))
    this.audit.written({ action: 'login', outcome: 'success' })
    return { sessionId: session.id, refreshToken }
  }

  /** Stores a new account with its first session and that session's refresh token, in one statement. */
  async startForNewAccount (account: NewUserRow, context: ClientContext): Promise<IssuedRefreshToken & { user: UserRow }> {
    const { session, refreshToken } = this.#prepare(context)
    const user = await insertUserWithSession(this.db, account, session, hashRefreshToken(refreshToken))
    this.audit.written({ action: 'register', outcome: 'success' })
    return { user, sessionId: session.id, refreshToken }
  }

  #prepare (context: ClientContext): { session: PendingSession, refreshToken: string } {
    return {
      session: {
        id: uuidv7(),
        expiresAt: new Date(Date.now() + this.settings.absoluteDays * DAY_MS),
        userAgent: context.userAgent,
        ip: context.ip,
        requestId: context.requestId
      },
      refreshToken: newRefreshToken()
    }
  }

  /** Rotates `refreshToken`; returns the successor token and the session's user. */
  async refresh (refreshToken: string, context: ClientContext): Promise<IssuedRefreshToken & { user: { id: string, roles: string[] } }> {
    const successor = newRefreshToken()
    const rotation = await rotateRefreshToken(this.db, hashRefreshToken(refreshToken), hashRefreshToken(successor), context, this.settings)
    if (rotation === undefined) throw invalidGrant('the refresh token is not valid')
    if (rotation.outcome === 'reused') this.audit.written({ action: 'refresh_token_reuse', outcome: 'failure' })
    if (rotation.outcome !== 'rotated') throw invalidGrant(REFUSALS[rotation.outcome])
    return { sessionId: rotation.session_id, refreshToken: successor, user: { id: rotation.user_id, roles: rotation.roles } }
  }

  /** Ends the session of a refresh token, if it is one of ours (RFC 7009: unknown tokens are fine). */
  async revokeByRefreshToken (refreshToken: string, context: ClientContext): Promise<boolean> {
    const sessionId = await findSessionIdOfRefreshToken(this.db, hashRefreshToken(refreshToken))
    if (sessionId === undefined) return false
    await this.revoke(sessionId, context)
    return true
  }

  /** Ends a session whose token was presented to POST /auth/revoke (RFC 7009): the client signs out. */
  async revoke (sessionId: string, context: ClientContext): Promise<void> {
    await this.#endAudited({ sessionId }, 'revoked', { action: 'logout', outcome: 'success' }, clientSource(null, context), { via: 'revoke', session_id: sessionId })
  }

  /** POST /auth/logout: ends `sessionId`, or with `all` every session of the user. */
  async logout (userId: string, sessionId: string | null, all: boolean, context: ClientContext): Promise<void> {
    const source = clientSource(userId, context)
    if (all) await this.#endAudited({ userId }, 'logout_all', LOGOUT, source, { all })
    else if (sessionId !== null) await this.#endAudited({ sessionId }, 'logout', LOGOUT, source, { all, session_id: sessionId })
  }

  /** Ends one of the user's own live sessions; someone else's (or an ended one) is not found. */
  async endOwn (userId: string, sessionId: string, context: ClientContext): Promise<void> {
    const session = await findSession(this.db, sessionId)
    if (session === undefined || session.user_id !== userId || session.revoked_at !== null) {
      throw new AppError('not_found', 'no such session')
    }
    await this.#endAudited({ sessionId, userId }, 'ended_by_user', { action: 'session_revoked', outcome: 'success' }, clientSource(userId, context), { session_id: sessionId })
  }

  /** Ends the matching sessions and, when there were any, records the event in the same transaction. */
  async #endAudited (filter: RevokeFilter, reason: string, kind: AuditKind, source: AuditSource, details: AuditDetails): Promise<void> {
    await this.audit.transaction(async (trx, record) => {
      const ended = await revokeSessions(trx, filter, reason)
      const [first] = ended
      if (first !== undefined) await record(eventBy(source, kind, first.user_id, { ...details, sessions: ended.length }))
    })
  }

  /** A user and whether `sessionId` is one of its live sessions: what the session view reads when it does not hold them. */
  async userWithSession (userId: string, sessionId: string): Promise<UserWithSession | undefined> {
    return findUserWithSession(this.db, userId, sessionId)
  }

  async list (userId: string): Promise<SessionRow[]> {
    return listLiveSessions(this.db, userId, this.settings.idleDays)
  }

  /** Deletes ended sessions; null when another instance is pruning right now. */
  async prune (): Promise<{ sessions: number } | null> {
    return this.db.transaction().execute((trx) => pruneSessions(trx, this.settings.idleDays))
  }
}
