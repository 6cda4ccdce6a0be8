import { sql, type Kysely } from 'kysely'

export async function up (db: Kysely<any>): Promise<void> {
  await sql`
    create or replace function set_updated_at() returns trigger language plpgsql as $$
    begin
      new.updated_at = now();
      return new;
    end
    $$`.execute(db)

  await db.schema
    .createTable('users')
    .addColumn('id', 'uuid', (col) => col.primaryKey())
    .addColumn('email', 'text', (col) => col.notNull())
    .addColumn('username', 'text', (col) => col.notNull())
    .addColumn('hashed_password', 'text')
    .addColumn('full_name', 'text')
    .addColumn('is_active', 'boolean', (col) => col.notNull().defaultTo(true))
    .addColumn('roles', sql`text[]`, (col) => col.notNull().defaultTo(sql`'{user}'::text[]`))
    .addColumn('password_changed_at', 'timestamptz')
    .addColumn('created_at', 'timestamptz', (col) => col.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', 'timestamptz', (col) => col.notNull().defaultTo(sql`now()`))
    .addUniqueConstraint('users_email_key', ['email'])
    .addCheckConstraint('users_email_shape', sql`email = lower(btrim(email)) and char_length(email) <= 320 and email ~ '^[^@[:space:]]+@[^@[:space:]]+$'`)
    .addCheckConstraint('users_username_shape', sql`username ~ '^[A-Za-z0-9_.-]{3,32}$'`)
    .addCheckConstraint('users_full_name_length', sql`char_length(full_name) <= 200`)
    .addCheckConstraint('users_roles_known', sql`roles <@ array['user', 'admin']::text[]`)
    .execute()

  await sql`create unique index users_username_lower_key on users (lower(username))`.execute(db)

  await sql`
    create trigger users_set_updated_at before update on users
    for each row execute function set_updated_at()`.execute(db)
}

export async function down (db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('users').execute()
  await sql`drop function if exists set_updated_at()`.execute(db)
}
