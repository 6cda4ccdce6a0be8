import { sql, type Kysely } from 'kysely'

/**
 * External sign-in (OpenID Connect): the identities a provider vouches for, linked to accounts,
 * and the state of sign-ins in progress, kept in the database so that any instance can finish
 * a flow another one started.
 */
export async function up (db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('user_identities')
    .addColumn('id', 'uuid', (col) => col.primaryKey())
    .addColumn('provider', 'text', (col) => col.notNull())
    .addColumn('subject', 'text', (col) => col.notNull())
    .addColumn('user_id', 'uuid', (col) => col.notNull().references('users.id').onDelete('cascade'))
    // The email the provider stated when the identity was linked: what the link was decided on.
    .addColumn('email', 'text')
    .addColumn('created_at', 'timestamptz', (col) => col.notNull().defaultTo(sql`now()`))
    .addColumn('last_login_at', 'timestamptz', (col) => col.notNull().defaultTo(sql`now()`))
    .addUniqueConstraint('user_identities_provider_subject', ['provider', 'subject'])
    .addCheckConstraint('user_identities_lengths', sql`char_length(provider) <= 32 and char_length(subject) <= 255 and char_length(email) <= 320`)
    .execute()
  await db.schema.createIndex('user_identities_user_id_idx').on('user_identities').column('user_id').execute()

  // One row per sign-in: created by /authorize, consumed once by /callback, whose one-time code
  // is then redeemed once at the token endpoint. Only hashes of `state` and of the code are kept.
  await db.schema
    .createTable('oidc_flows')
    .addColumn('id', 'uuid', (col) => col.primaryKey())
    .addColumn('provider', 'text', (col) => col.notNull())
    .addColumn('state_hash', 'text', (col) => col.notNull().unique())
    .addColumn('nonce', 'text', (col) => col.notNull())
    .addColumn('code_verifier', 'text', (col) => col.notNull())
    .addColumn('redirect_uri', 'text', (col) => col.notNull())
    .addColumn('client_state', 'text')
    .addColumn('code_challenge', 'text', (col) => col.notNull())
    .addColumn('created_at', 'timestamptz', (col) => col.notNull().defaultTo(sql`now()`))
    .addColumn('expires_at', 'timestamptz', (col) => col.notNull())
    .addColumn('consumed_at', 'timestamptz')
    .addColumn('code_hash', 'text', (col) => col.unique())
    .addColumn('user_id', 'uuid', (col) => col.references('users.id').onDelete('cascade'))
    .addColumn('code_expires_at', 'timestamptz')
    .addColumn('code_used_at', 'timestamptz')
    .addCheckConstraint('oidc_flows_code', sql`(code_hash is null) = (user_id is null) and (code_hash is null) = (code_expires_at is null)`)
    .execute()
  await db.schema.createIndex('oidc_flows_expires_at_idx').on('oidc_flows').column('expires_at').execute()
}

export async function down (db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('oidc_flows').execute()
  await db.schema.dropTable('user_identities').execute()
}
