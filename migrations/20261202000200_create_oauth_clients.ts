import { sql, type Kysely } from 'kysely'

/** The OAuth client registry: public and confidential clients, a confidential one's secret only as a hash. */
export async function up (db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('oauth_clients')
    .addColumn('client_id', 'uuid', (col) => col.primaryKey())
    .addColumn('name', 'text', (col) => col.notNull())
    .addColumn('type', 'text', (col) => col.notNull())
    .addColumn('secret_hash', 'text')
    .addColumn('grant_types', sql`text[]`, (col) => col.notNull())
    .addColumn('audience', 'text')
    .addColumn('scopes', sql`text[]`, (col) => col.notNull().defaultTo(sql`'{}'`))
    .addColumn('disabled', 'boolean', (col) => col.notNull().defaultTo(false))
    .addColumn('created_at', 'timestamptz', (col) => col.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', 'timestamptz', (col) => col.notNull().defaultTo(sql`now()`))
    .addColumn('secret_rotated_at', 'timestamptz')
    .addCheckConstraint('oauth_clients_type', sql`type in ('public', 'confidential')`)
    // A confidential client always has a secret; a public one never does.
    .addCheckConstraint('oauth_clients_secret', sql`(type = 'confidential') = (secret_hash is not null)`)
    .addCheckConstraint('oauth_clients_name_length', sql`char_length(name) between 1 and 100`)
    .execute()
  await db.schema.createIndex('oauth_clients_created_at_idx').on('oauth_clients').columns(['created_at', 'client_id']).execute()
  // set_updated_at() comes from the users migration.
  await sql`
    create trigger oauth_clients_set_updated_at before update on oauth_clients
    for each row execute function set_updated_at()`.execute(db)
}

export async function down (db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('oauth_clients').execute()
}
