import { sql, type Kysely } from 'kysely'

/**
 * What each instance's in-memory session view needs to learn (DESIGN "Revocation feed and
 * the session cache"): the revocation notification now names the account and the session, so
 * a listener can drop them without reading the entry back, and every change to a users row
 * notifies `user_changes` with the account's id (the profile, roles, password, activation).
 * Both are sent at commit, in commit order.
 */
export async function up (db: Kysely<any>): Promise<void> {
  await sql`
    create or replace function record_revocation() returns trigger language plpgsql as $$
    declare
      entry bigint;
      account uuid;
      session uuid;
    begin
      perform pg_advisory_xact_lock(hashtext('user-service:revocations'));
      if tg_table_name = 'sessions' then
        account := new.user_id;
        session := new.id;
      elsif tg_op = 'DELETE' then
        account := old.id;
      else
        account := new.id;
      end if;
      insert into revocations (sid, sub) values (session, account) returning id into entry;
      perform pg_notify('revocations', json_build_object('id', entry::text, 'sub', account, 'sid', session)::text);
      return null;
    end
    $$`.execute(db)
  await sql`
    create function notify_user_change() returns trigger language plpgsql as $$
    begin
      perform pg_notify('user_changes', new.id::text);
      return null;
    end
    $$`.execute(db)
  await sql`
    create trigger users_changed after update on users for each row
    when (old.* is distinct from new.*) execute function notify_user_change()`.execute(db)
}

export async function down (db: Kysely<any>): Promise<void> {
  await sql`drop trigger users_changed on users`.execute(db)
  await sql`drop function notify_user_change()`.execute(db)
  await sql`
    create or replace function record_revocation() returns trigger language plpgsql as $$
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
}
