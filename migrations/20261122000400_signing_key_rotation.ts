import { sql, type Kysely } from 'kysely'

/**
 * Key rotation: a key is `active` (the newest active key of the configured algorithm signs)
 * or `retired` (no longer signs; still verifies and is published until `not_after`).
 * Also adds the `service` role (resource servers calling /auth/introspect).
 */
export async function up (db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('signing_keys')
    .addColumn('status', 'text', (col) => col.notNull().defaultTo('active'))
    .addColumn('activated_at', 'timestamptz', (col) => col.notNull().defaultTo(sql`now()`))
    .addColumn('not_after', 'timestamptz')
    .execute()
  await sql`update signing_keys set activated_at = created_at`.execute(db)
  await sql`update signing_keys set status = 'retired', not_after = retired_at where retired_at is not null`.execute(db)
  await db.schema.alterTable('signing_keys')
    .addCheckConstraint('signing_keys_status_known', sql`status in ('active', 'retired')`)
    .execute()
  await db.schema.alterTable('signing_keys')
    .addCheckConstraint('signing_keys_retired_consistent', sql`(status = 'retired') = (retired_at is not null and not_after is not null)`)
    .execute()
  await db.schema.alterTable('signing_keys')
    .addCheckConstraint('signing_keys_algorithm_known', sql`algorithm in ('RS256', 'ES256', 'EdDSA')`)
    .execute()

  await db.schema.alterTable('users').dropConstraint('users_roles_known').execute()
  await db.schema.alterTable('users')
    .addCheckConstraint('users_roles_known', sql`roles <@ array['user', 'admin', 'service']::text[]`)
    .execute()
}

export async function down (db: Kysely<any>): Promise<void> {
  await sql`update users set roles = array_remove(roles, 'service')`.execute(db)
  await db.schema.alterTable('users').dropConstraint('users_roles_known').execute()
  await db.schema.alterTable('users')
    .addCheckConstraint('users_roles_known', sql`roles <@ array['user', 'admin']::text[]`)
    .execute()
  // Keys of algorithms the old code does not know would break it: drop them.
  await sql`delete from signing_keys where algorithm <> 'RS256'`.execute(db)
  await db.schema.alterTable('signing_keys').dropConstraint('signing_keys_algorithm_known').execute()
  await db.schema.alterTable('signing_keys').dropConstraint('signing_keys_retired_consistent').execute()
  await db.schema.alterTable('signing_keys').dropConstraint('signing_keys_status_known').execute()
  await db.schema.alterTable('signing_keys').dropColumn('not_after').dropColumn('activated_at').dropColumn('status').execute()
}
