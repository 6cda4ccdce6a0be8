import { sql, type Kysely } from 'kysely'

/**
 * The revocation feed (DESIGN "Revocation feed and the session cache"): one row per ended
 * session, disabled account or deleted account, written by triggers in the transaction of the
 * change itself, whatever makes it (a logout, an admin, the CLI, refresh-token reuse), with a
 * NOTIFY on the channel `revocations` that instances and subscribers listen on.
 */
export async function up (db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('revocations')
    .addColumn('id', 'bigint', (col) => col.primaryKey().generatedAlwaysAsIdentity())
    // null: the whole account (disabled or deleted).
    .addColumn('sid', 'uuid')
    .addColumn('sub', 'uuid', (col) => col.notNull())
    .addColumn('revoked_at', 'timestamptz', (col) => col.notNull().defaultTo(sql`now()`))
    .execute()
  await db.schema.createIndex('revocations_revoked_at_idx').on('revocations').column('revoked_at').execute()
  // The advisory lock makes revocations commit in the order of their ids, so a reader that
  // resumes after id N can never miss an id below N committed later.
  await sql`
    create function record_revocation() returns trigger language plpgsql as $$
    declare
      entry bigint;
    begin
      perform pg_advisory_xact_lock(hashtext('user-service:revocations'));
      if tg_table_name = 'sessions' then
        insert into revocations (sid, sub) values (new.id, new.user_id) returning id into entry;
      elsif tg_op = 'DELETE' then
        insert into revocations (sid, sub) values (null, old.id) returning id into entry;
      else
        insert into revocations (sid, sub) values (null, new.id) returning id into entry;
      end if;
      perform pg_notify('revocations', entry::text);
      return null;
    end
    $$`.execute(db)
  await sql`
    create trigger sessions_revoked after update of revoked_at on sessions for each row
    when (old.revoked_at is null and new.revoked_at is not null) execute function record_revocation()`.execute(db)
  await sql`
    create trigger users_disabled after update of is_active on users for each row
    when (old.is_active and not new.is_active) execute function record_revocation()`.execute(db)
  await sql`create trigger users_deleted after delete on users for each row execute function record_revocation()`.execute(db)
}

export async function down (db: Kysely<any>): Promise<void> {
  await sql`drop trigger users_deleted on users`.execute(db)
  await sql`drop trigger users_disabled on users`.execute(db)
  await sql`drop trigger sessions_revoked on sessions`.execute(db)
  await sql`drop function record_revocation()`.execute(db)
  await db.schema.dropTable('revocations').execute()
}
