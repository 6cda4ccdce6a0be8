import { sql } from 'kysely'
import { PrecompiledQuery } from '../db/precompiled.js'
import type { SessionRow, UserRow } from '../db/types.js'
import { USER_COLUMNS, type Executor } from '../users/users.repository.js'

export interface NewSession {
  id: string
  userId: string
  expiresAt: Date
  userAgent: string | null
  ip: string | null
}

export async function insertSession (db: Executor, session: NewSession): Promise<SessionRow> {
  return db.insertInto('sessions').values({
    id: session.id,
    user_id: session.userId,
    expires_at: session.expiresAt,
    user_agent: session.userAgent,
    ip: session.ip
  }).returningAll().executeTakeFirstOrThrow()
}

// The statements of a refresh (the hot write path) are precompiled and prepared, like the
// per-request read below; see src/db/precompiled.ts.
const insertRefreshTokenQuery = new PrecompiledQuery((db, sessionId: string, tokenHash: string) =>
  db.insertInto('refresh_tokens').values({ session_id: sessionId, token_hash: tokenHash }), ['\u0000session', '\u0000hash'])

export async function insertRefreshToken (db: Executor, sessionId: string, tokenHash: string): Promise<void> {
  await insertRefreshTokenQuery.execute(db, sessionId, tokenHash)
}

/** A refresh token with its session and the database's clock, for the rotation rules. */
export interface RefreshTokenLookup {
  session_id: string
  user_id: string
  rotated_at: Date | null
  revoked_at: Date | null
  expires_at: Date
  last_used_at: Date
  user_is_active: boolean
  now: Date
}

function refreshTokenQuery (db: Executor, tokenHash: string) {
  return db.selectFrom('refresh_tokens')
    .innerJoin('sessions', 'sessions.id', 'refresh_tokens.session_id')
    .innerJoin('users', 'users.id', 'sessions.user_id')
    .select([
      'refresh_tokens.session_id',
      'sessions.user_id',
      'refresh_tokens.rotated_at',
      'sessions.revoked_at',
      'sessions.expires_at',
      'sessions.last_used_at',
      'users.is_active as user_is_active',
      sql<Date>`now()`.as('now')
    ])
    .where('refresh_tokens.token_hash', '=', tokenHash)
}

const lockedRefreshTokenQuery = new PrecompiledQuery((db, tokenHash: string) =>
  refreshTokenQuery(db, tokenHash).modifyEnd(sql`for update of sessions`), ['\u0000hash'])

/** With `lockSession`, the session row stays locked until the transaction ends (refresh vs revoke). */
export async function findRefreshToken (db: Executor, tokenHash: string, options: { lockSession?: boolean } = {}): Promise<RefreshTokenLookup | undefined> {
  if (options.lockSession !== true) return refreshTokenQuery(db, tokenHash).executeTakeFirst()
  const [row] = await lockedRefreshTokenQuery.execute(db, tokenHash)
  return row
}

const markRotatedQuery = new PrecompiledQuery((db, tokenHash: string) => db.updateTable('refresh_tokens')
  .set({ rotated_at: sql`now()` })
  .where('token_hash', '=', tokenHash)
  .where('rotated_at', 'is', null)
  .returning('session_id'), ['\u0000hash'])

/** Marks the token used; false when another request got there first (the row is locked meanwhile). */
export async function markRotated (db: Executor, tokenHash: string): Promise<boolean> {
  const rows = await markRotatedQuery.execute(db, tokenHash)
  return rows.length > 0
}

const touchSessionQuery = new PrecompiledQuery((db, sessionId: string, userAgent: string | null, ip: string | null) => db.updateTable('sessions')
  .set({ last_used_at: sql`now()`, user_agent: userAgent, ip })
  .where('id', '=', sessionId), ['\u0000session', '\u0000agent', '\u0000ip'])

export async function touchSession (db: Executor, sessionId: string, userAgent: string | null, ip: string | null): Promise<void> {
  await touchSessionQuery.execute(db, sessionId, userAgent, ip)
}

export interface RevokeFilter {
  userId?: string
  sessionId?: string
  exceptSessionId?: string
}

/** Ends the matching live sessions; returns how many. */
export async function revokeSessions (db: Executor, filter: RevokeFilter, reason: string): Promise<number> {
  let query = db.updateTable('sessions')
    .set({ revoked_at: sql`now()`, revoked_reason: reason })
    .where('revoked_at', 'is', null)
  if (filter.userId !== undefined) query = query.where('user_id', '=', filter.userId)
  if (filter.sessionId !== undefined) query = query.where('id', '=', filter.sessionId)
  if (filter.exceptSessionId !== undefined) query = query.where('id', '<>', filter.exceptSessionId)
  const result = await query.executeTakeFirst()
  return Number(result.numUpdatedRows)
}

/** The user's sessions that can still be used, newest activity first. */
export async function listLiveSessions (db: Executor, userId: string, idleDays: number): Promise<SessionRow[]> {
  return db.selectFrom('sessions')
    .selectAll()
    .where('user_id', '=', userId)
    .where('revoked_at', 'is', null)
    .where('expires_at', '>', sql<Date>`now()`)
    .where('last_used_at', '>', sql<Date>`now() - make_interval(days => ${idleDays})`)
    .orderBy('last_used_at', 'desc')
    .execute()
}

export async function findSession (db: Executor, sessionId: string): Promise<SessionRow | undefined> {
  return db.selectFrom('sessions').selectAll().where('id', '=', sessionId).executeTakeFirst()
}

/**
 * Deletes ended sessions (revoked, expired, idle) with their refresh tokens. A live session
 * keeps its used tokens, so reuse is detected for its whole life. Only one instance prunes at
 * a time: the others skip instead of waiting.
 */
export async function pruneSessions (db: Executor, idleDays: number): Promise<{ sessions: number } | null> {
  const locked = await sql<{ locked: boolean }>`select pg_try_advisory_xact_lock(hashtext('user-service:prune-sessions')) as locked`.execute(db)
  if (locked.rows[0]?.locked !== true) return null
  const sessions = await db.deleteFrom('sessions')
    .where((eb) => eb.or([
      eb('revoked_at', 'is not', null),
      eb('expires_at', '<=', sql<Date>`now()`),
      eb('last_used_at', '<=', sql<Date>`now() - make_interval(days => ${idleDays})`)
    ]))
    .executeTakeFirst()
  return { sessions: Number(sessions.numDeletedRows) }
}

/**
 * The user of an access token and whether its session is still live, in one round trip
 * (the per-request read of every protected endpoint).
 */
const userWithSession = new PrecompiledQuery((db, userId: string, sessionId: string) => db.selectFrom('users')
  .leftJoin('sessions', (join) => join.onRef('sessions.user_id', '=', 'users.id').on('sessions.id', '=', sessionId))
  .select(USER_COLUMNS.map((column) => `users.${column}` as const))
  .select(sql<boolean>`(sessions.id is not null and sessions.revoked_at is null and sessions.expires_at > now())`.as('session_live'))
  .where('users.id', '=', userId), ['\u0000user', '\u0000session'])

/** The read of every protected request (see plugins/auth.ts), hence precompiled. */
export async function findUserWithSession (db: Executor, userId: string, sessionId: string): Promise<(UserRow & { session_live: boolean }) | undefined> {
  const [row] = await userWithSession.execute(db, userId, sessionId)
  return row
}
