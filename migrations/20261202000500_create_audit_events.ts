import { sql, type Kysely } from 'kysely'

/**
 * Audit events: who did what to which account, from where. No foreign keys: an event outlives
 * the account it names (an account's deletion is itself an event). Pruned after
 * AUDIT_RETENTION_DAYS by the prune job.
 */
export async function up (db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('audit_events')
    .addColumn('id', 'uuid', (col) => col.primaryKey().defaultTo(sql`gen_random_uuid()`))
    .addColumn('at', 'timestamptz', (col) => col.notNull().defaultTo(sql`now()`))
    .addColumn('action', 'text', (col) => col.notNull())
    .addColumn('outcome', 'text', (col) => col.notNull())
    .addColumn('actor_user_id', 'uuid')
    .addColumn('subject_user_id', 'uuid')
    .addColumn('client_id', 'text')
    .addColumn('ip', 'text')
    .addColumn('user_agent', 'text')
    .addColumn('request_id', 'text')
    .addColumn('details', 'jsonb', (col) => col.notNull().defaultTo(sql`'{}'::jsonb`))
    .addCheckConstraint('audit_events_outcome_known', sql`outcome in ('success', 'failure', 'throttled')`)
    .addCheckConstraint('audit_events_user_agent_length', sql`char_length(user_agent) <= 512`)
    .addCheckConstraint('audit_events_request_id_length', sql`char_length(request_id) <= 128`)
    .execute()
  await db.schema.createIndex('audit_events_at_idx').on('audit_events').column('at').execute()
  await db.schema.createIndex('audit_events_subject_user_id_at_idx').on('audit_events').columns(['subject_user_id', 'at']).execute()
}

export async function down (db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('audit_events').execute()
}
