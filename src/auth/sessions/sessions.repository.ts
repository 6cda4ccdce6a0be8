import { sql, type Expression, type RawBuilder } from 'kysely'
import { AUDIT_SELECTION_COLUMNS, ownAuditSelection } from '../../audit/audit.repository.js'
import type { AuditKind, AuditOrigin } from '../../audit/events.js'
import { tryTransactionLock } from '../../db/advisory-lock.js'
import { PrecompiledQuery } from '../../db/precompiled.js'
import type { Executor, NewUserRow, SessionRow, UserRow } from '../../db/types.js'
import { USER_COLUMNS } from '../../users/users.repository.js'

export interface NewSession {
  id: string
  userId: string
  expiresAt: Date
  userAgent: string | null
  ip: string | null
  /** The request that starts it: stored in its audit event, not with the session. */
  requestId: string | null
}

/** A session about to be stored with the account it belongs to. */
export type PendingSession = Omit<NewSession, 'userId'>

const REGISTER: AuditKind = { action: 'register', outcome: 'success' }
const LOGIN_SUCCESS: AuditKind = { action: 'login', outcome: 'success' }

/** The session of a sign-in as its audit event's details: the sign-in's `session_id`. */
const sessionDetails = (sessionId: Expression<string>): RawBuilder<unknown> => sql`jsonb_build_object('session_id', ${sessionId})`

// Sign-in and refresh are the hot write paths: their statements are precompiled and prepared
// like the per-request read below (see src/db/precompiled.ts), and each is one round trip.
// A sign-in's audit event is written by the same statement.
const startSessionQuery = new PrecompiledQuery((db, id: string, userId: string, expiresAt: string, userAgent: string | null, ip: string | null, requestId: string | null, tokenHash: string) => db
  .with('session', (db) => db.insertInto('sessions')
    .values({ id, user_id: userId, expires_at: expiresAt, user_agent: userAgent, ip })
    .returning(['id', 'user_id']))
  .with('event', (db) => db.insertInto('audit_events')
    .columns(AUDIT_SELECTION_COLUMNS)
    .expression((eb) => eb.selectFrom('session')
      .select(ownAuditSelection(LOGIN_SUCCESS, sql.ref<string>('session.user_id'), { ip, userAgent, requestId }, sessionDetails(sql.ref('session.id'))))))
  .insertInto('refresh_tokens')
  .columns(['session_id', 'token_hash'])
  .expression((eb) => eb.selectFrom('session').select(['session.id', sql<string>`${tokenHash}::text`.as('token_hash')])),
['\u0000id', '\u0000user', '\u0000expires', '\u0000agent', '\u0000ip', '\u0000request', '\u0000hash'])

/** Stores a new session with its first refresh token and the sign-in's audit event (login, success), in one statement. */
export async function insertSessionWithRefreshToken (db: Executor, session: NewSession, tokenHash: string): Promise<void> {
  await startSessionQuery.execute(db, session.id, session.userId, session.expiresAt.toISOString(), session.userAgent, session.ip, session.requestId, tokenHash)
}

/** Stores a new account, its first session, that session's refresh token and the audit event (register), in one statement. */
export async function insertUserWithSession (db: Executor, user: NewUserRow, session: PendingSession, tokenHash: string): Promise<UserRow> {
  return db
    .with('new_user', (db) => db.insertInto('users').values(user).returning(USER_COLUMNS))
    .with('new_session', (db) => db.insertInto('sessions')
      .columns(['id', 'user_id', 'expires_at', 'user_agent', 'ip'])
      .expression((eb) => eb.selectFrom('new_user').select([
        sql<string>`${session.id}::uuid`.as('id'),
        'new_user.id',
        sql<Date>`${session.expiresAt}::timestamptz`.as('expires_at'),
        sql<string | null>`${session.userAgent}::text`.as('user_agent'),
        sql<string | null>`${session.ip}::text`.as('ip')
      ]))
      .returning(['id', 'user_id']))
    .with('new_token', (db) => db.insertInto('refresh_tokens')
      .columns(['session_id', 'token_hash'])
      .expression((eb) => eb.selectFrom('new_session').select(['new_session.id', sql<string>`${tokenHash}::text`.as('token_hash')])))
    .with('new_event', (db) => db.insertInto('audit_events')
      .columns(AUDIT_SELECTION_COLUMNS)
      .expression((eb) => eb.selectFrom('new_session')
        .select(ownAuditSelection(REGISTER, sql.ref<string>('new_session.user_id'), session, sessionDetails(sql.ref('new_session.id'))))))
    .selectFrom('new_user')
    .select(USER_COLUMNS)
    .executeTakeFirstOrThrow()
}

/** The session a refresh token (rotated or not) belongs to, if it is one of ours. */
export async function findSessionIdOfRefreshToken (db: Executor, tokenHash: string): Promise<string | undefined> {
  const row = await db.selectFrom('refresh_tokens').select('session_id').where('token_hash', '=', tokenHash).executeTakeFirst()
  return row?.session_id
}

/**
 * What became of a presented refresh token: `rotated` (the successor is stored), or why not.
 * `already_used`: rotated moments ago (a client's parallel request, or a lost race);
 * `reused`: rotated before the grace window, so the session has just been ended.
 */
export type RotationOutcome = 'rotated' | 'already_used' | 'reused' | 'ended' | 'disabled' | 'expired'

export interface RefreshRotation {
  outcome: RotationOutcome
  session_id: string
  user_id: string
  roles: string[]
}

export interface RotationRules {
  idleDays: number
  reuseGraceSeconds: number
}

/*
 * The whole rotation in one statement, so a refresh costs one round trip instead of seven.
 * `found` locks the session row: a concurrent logout or rotation waits, and on the row's new
 * version the state is computed again, as a SELECT ... FOR UPDATE in a transaction would.
 * The successor is inserted from what the update returned, so the old token is already
 * retired when the one-live-token-per-session index checks the new one; a parallel refresh
 * of the same token finds it retired and inserts nothing. A detected reuse ends the session
 * and writes its audit event (refresh_token_reuse, failure) in the same statement. Parameters
 * are typed in the SQL because the statement is prepared once for every call.
 */
const rotateQuery = new PrecompiledQuery((_db, tokenHash: string, successorHash: string, userAgent: string | null, ip: string | null, requestId: string | null, idleDays: number, graceSeconds: number) => sql<RefreshRotation>`
with found as (
  select refresh_tokens.session_id, sessions.user_id, users.roles,
    case
      when sessions.revoked_at is not null then 'ended'
      when not users.is_active then 'disabled'
      when sessions.expires_at <= now() or sessions.last_used_at <= now() - make_interval(days => ${idleDays}::int) then 'expired'
      when refresh_tokens.rotated_at is null then 'live'
      when now() - refresh_tokens.rotated_at <= make_interval(secs => ${graceSeconds}::int) then 'already_used'
      else 'reused'
    end as state
  from refresh_tokens
  join sessions on sessions.id = refresh_tokens.session_id
  join users on users.id = sessions.user_id
  where refresh_tokens.token_hash = ${tokenHash}::text
  for update of sessions
), rotated as (
  update refresh_tokens set rotated_at = now()
  from found
  where found.state = 'live' and refresh_tokens.token_hash = ${tokenHash}::text and refresh_tokens.rotated_at is null
  returning refresh_tokens.session_id
), successor as (
  insert into refresh_tokens (session_id, token_hash)
  select session_id, ${successorHash}::text from rotated
  returning session_id
), touched as (
  update sessions set last_used_at = now(), user_agent = ${userAgent}::text, ip = ${ip}::text
  from successor
  where sessions.id = successor.session_id
), revoked as (
  update sessions set revoked_at = now(), revoked_reason = 'refresh_token_reuse'
  from found
  where found.state = 'reused' and sessions.id = found.session_id and sessions.revoked_at is null
), reuse_event as (
  insert into audit_events (action, outcome, subject_user_id, ip, user_agent, request_id, details)
  select 'refresh_token_reuse', 'failure', found.user_id, ${ip}::text, ${userAgent}::text, ${requestId}::text,
    jsonb_build_object('session_id', found.session_id)
  from found
  where found.state = 'reused'
)
select found.session_id, found.user_id, found.roles,
  case
    when found.state <> 'live' then found.state
    when exists (select from successor) then 'rotated'
    else 'already_used'
  end as outcome
from found`, ['\u0000hash', '\u0000successor', '\u0000agent', '\u0000ip', '\u0000request', '\u0000idle', '\u0000grace'])

/** Rotates the refresh token whose hash is `tokenHash`; undefined when there is no such token. */
export async function rotateRefreshToken (db: Executor, tokenHash: string, successorHash: string, context: AuditOrigin, rules: RotationRules): Promise<RefreshRotation | undefined> {
  const [row] = await rotateQuery.execute(db, tokenHash, successorHash, context.userAgent, context.ip, context.requestId, rules.idleDays, rules.reuseGraceSeconds)
  return row
}

export interface RevokeFilter {
  userId?: string
  sessionId?: string
  exceptSessionId?: string
}

/** A session that has just been ended. */
export interface EndedSession {
  id: string
  user_id: string
}

/** Ends the matching live sessions; returns them. */
export async function revokeSessions (db: Executor, filter: RevokeFilter, reason: string): Promise<EndedSession[]> {
  let query = db.updateTable('sessions')
    .set({ revoked_at: sql`now()`, revoked_reason: reason })
    .where('revoked_at', 'is', null)
  if (filter.userId !== undefined) query = query.where('user_id', '=', filter.userId)
  if (filter.sessionId !== undefined) query = query.where('id', '=', filter.sessionId)
  if (filter.exceptSessionId !== undefined) query = query.where('id', '<>', filter.exceptSessionId)
  return query.returning(['id', 'user_id']).execute()
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
  if (!await tryTransactionLock(db, 'user-service:prune-sessions')) return null
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
  .select('sessions.expires_at as session_expires_at')
  .where('users.id', '=', userId), ['\u0000user', '\u0000session'])

/** A user and whether one of its sessions is live (and until when it can be). */
export type UserWithSession = UserRow & { session_live: boolean, session_expires_at: Date | null }

/** The read of every protected request that the session view cannot answer (see session-view.ts), hence precompiled. */
export async function findUserWithSession (db: Executor, userId: string, sessionId: string): Promise<UserWithSession | undefined> {
  const [row] = await userWithSession.execute(db, userId, sessionId)
  return row
}
