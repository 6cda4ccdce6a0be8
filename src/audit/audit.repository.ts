import { sql, type Expression } from 'kysely'
import { tryTransactionLock } from '../db/advisory-lock.js'
import { PrecompiledQuery } from '../db/precompiled.js'
import { afterPosition, micros, type PagePosition } from '../db/pagination.js'
import type { AuditEventRow, Executor } from '../db/types.js'
import { assertNoSecrets, type AuditEvent, type AuditKind, type AuditOrigin } from './events.js'

/** Every column of audit_events, listed (a prepared statement must not select `*`). */
export const AUDIT_EVENT_COLUMNS = [
  'id', 'at', 'action', 'outcome', 'actor_user_id', 'subject_user_id', 'client_id', 'ip', 'user_agent', 'request_id', 'details'
] as const satisfies ReadonlyArray<keyof AuditEventRow>

// A failed login writes one of these on its own: precompiled, as it runs in a password-guessing storm.
const insertQuery = new PrecompiledQuery((db, action: string, outcome: string, actor: string | null, subject: string | null,
  client: string | null, ip: string | null, userAgent: string | null, requestId: string | null, details: string) => db
  .insertInto('audit_events')
  .values({ action, outcome, actor_user_id: actor, subject_user_id: subject, client_id: client, ip, user_agent: userAgent, request_id: requestId, details }),
['\u0000action', '\u0000outcome', '\u0000actor', '\u0000subject', '\u0000client', '\u0000ip', '\u0000agent', '\u0000request', '\u0000details'])

/**
 * Writes one audit event with `db`: pass the transaction that makes the change it records,
 * so that both are stored or neither. Refuses details whose keys name a secret.
 */
export async function insertAuditEvent (db: Executor, event: AuditEvent): Promise<void> {
  const details = event.details ?? {}
  assertNoSecrets(details)
  const { ip, userAgent, requestId } = event.origin
  await insertQuery.execute(db, event.action, event.outcome, event.actorUserId, event.subjectUserId, event.clientId ?? null,
    ip, userAgent, requestId, JSON.stringify(details))
}

/** The columns `auditSelection` fills, for `insertInto('audit_events').columns(...)`. */
export const AUDIT_SELECTION_COLUMNS = ['action', 'outcome', 'actor_user_id', 'subject_user_id', 'ip', 'user_agent', 'request_id', 'details'] as const

/**
 * The values of an event a user does to their own account (register, login), for an
 * `insert into audit_events ... select` in the very statement that makes the change: the
 * statement stores both or neither, in one round trip. `details` is a jsonb expression.
 */
export function ownAuditSelection (kind: AuditKind, userId: Expression<string>, origin: AuditOrigin, details: Expression<unknown>) {
  return [
    sql<string>`${sql.lit(kind.action)}::text`.as('action'),
    sql<string>`${sql.lit(kind.outcome)}::text`.as('outcome'),
    sql<string>`${userId}`.as('actor_user_id'),
    sql<string>`${userId}`.as('subject_user_id'),
    sql<string | null>`${origin.ip}::text`.as('ip'),
    sql<string | null>`${origin.userAgent}::text`.as('user_agent'),
    sql<string | null>`${origin.requestId}::text`.as('request_id'),
    sql<unknown>`${details}`.as('details')
  ]
}

export interface AuditFilter {
  limit: number
  action?: string | undefined
  /** Events done by or to this user. */
  userId?: string | undefined
  /** Events at or after this moment. */
  since?: Date | undefined
}

/** The newest `limit` events that match, newest first. */
export async function listAuditEvents (db: Executor, filter: AuditFilter): Promise<AuditEventRow[]> {
  return matching(db, filter).select(AUDIT_EVENT_COLUMNS).orderBy('at', 'desc').orderBy('id', 'desc').limit(filter.limit).execute()
}

/** Like listAuditEvents, after `after` in the same order, each row with its position for the next page's cursor. */
export async function pageAuditEvents (db: Executor, filter: AuditFilter, after?: PagePosition): Promise<Array<AuditEventRow & { position_micros: string }>> {
  let query = matching(db, filter).select([...AUDIT_EVENT_COLUMNS, micros('at').as('position_micros')])
  if (after !== undefined) query = query.where(afterPosition('at', 'id', after))
  return query.orderBy('at', 'desc').orderBy('id', 'desc').limit(filter.limit).execute()
}

function matching (db: Executor, filter: AuditFilter) {
  let query = db.selectFrom('audit_events')
  if (filter.action !== undefined) query = query.where('action', '=', filter.action)
  const userId = filter.userId
  if (userId !== undefined) query = query.where((eb) => eb.or([eb('subject_user_id', '=', userId), eb('actor_user_id', '=', userId)]))
  if (filter.since !== undefined) query = query.where('at', '>=', filter.since)
  return query
}

/**
 * Deletes up to `batchSize` of the oldest events older than `retentionDays`, under an advisory
 * lock (call it in a transaction); null when another instance is pruning right now.
 */
export async function pruneAuditEventsBatch (db: Executor, retentionDays: number, batchSize: number): Promise<number | null> {
  if (!await tryTransactionLock(db, 'user-service:prune-audit-events')) return null
  const result = await db.deleteFrom('audit_events')
    .where('id', 'in', (eb) => eb.selectFrom('audit_events').select('id')
      .where('at', '<', sql<Date>`now() - make_interval(days => ${retentionDays}::int)`)
      .orderBy('at')
      .limit(batchSize))
    .executeTakeFirst()
  return Number(result.numDeletedRows)
}
