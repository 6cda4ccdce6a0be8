import type { FastifyInstance } from 'fastify'
import { sql, type Kysely } from 'kysely'
import { AUDIT_EVENT_COLUMNS } from '../../src/audit/audit.repository.js'
import type { AuditEventRow, Database } from '../../src/db/types.js'

export interface Tokens { access_token: string, refresh_token: string }

/** Every audit event, oldest first; `action` narrows them. */
export async function auditRows (db: Kysely<Database>, action?: string): Promise<AuditEventRow[]> {
  let query = db.selectFrom('audit_events').select(AUDIT_EVENT_COLUMNS)
  if (action !== undefined) query = query.where('action', '=', action)
  return query.orderBy('at').orderBy('id').execute()
}

/** The secrets among `secrets` that some stored event holds, anywhere in its row (none, it must be). */
export async function secretsInAudit (db: Kysely<Database>, secrets: string[]): Promise<string[]> {
  const text = JSON.stringify(await auditRows(db))
  return secrets.filter((secret) => text.includes(secret))
}

/** The value of one sample of /metrics, 0 when absent. */
export async function metricSample (app: FastifyInstance, series: string): Promise<number> {
  const body = (await app.inject({ method: 'GET', url: '/metrics' })).body
  const line = body.split('\n').find((candidate) => candidate.startsWith(`${series} `))
  return line === undefined ? 0 : Number(line.slice(series.length + 1))
}

/** A JSON request with a User-Agent and an X-Request-ID, as the audit events record them. */
export function from (agent: string, requestId: string, extra: Record<string, string> = {}): Record<string, string> {
  return { 'user-agent': agent, 'x-request-id': requestId, ...extra }
}

/**
 * From now on the database refuses events that do not meet `condition` (a check constraint,
 * not validated against the rows already there): a stand-in for any failure of their insert.
 */
export async function refuseEvents (db: Kysely<Database>, condition: string): Promise<void> {
  await sql.raw(`alter table audit_events add constraint test_refuse_events check (${condition}) not valid`).execute(db)
}
