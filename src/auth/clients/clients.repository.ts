import { afterPosition, micros, type PagePosition } from '../../db/pagination.js'
import type { Executor, OAuthClientRow, OAuthClientUpdate } from '../../db/types.js'

/** Every column but the secret's hash: what the registry shows. */
export type ClientRow = Omit<OAuthClientRow, 'secret_hash'>

const SHOWN_COLUMNS = ['client_id', 'name', 'type', 'grant_types', 'audience', 'scopes', 'disabled', 'created_at', 'updated_at', 'secret_rotated_at'] as const

export async function insertClient (db: Executor, row: Omit<OAuthClientRow, 'created_at' | 'updated_at' | 'secret_rotated_at' | 'disabled'>): Promise<ClientRow> {
  return db.insertInto('oauth_clients').values(row).returning(SHOWN_COLUMNS).executeTakeFirstOrThrow()
}

/** The client with its secret's hash, for authenticating it. */
export async function findClientWithSecret (db: Executor, clientId: string): Promise<OAuthClientRow | undefined> {
  return db.selectFrom('oauth_clients').selectAll().where('client_id', '=', clientId).executeTakeFirst()
}

export async function findClient (db: Executor, clientId: string): Promise<ClientRow | undefined> {
  return db.selectFrom('oauth_clients').select(SHOWN_COLUMNS).where('client_id', '=', clientId).executeTakeFirst()
}

/** A page of clients, newest first, after `after`: `limit` rows with their positions. */
export async function listClients (db: Executor, limit: number, after?: PagePosition): Promise<Array<ClientRow & { position_micros: string }>> {
  let query = db.selectFrom('oauth_clients').select([...SHOWN_COLUMNS, micros('created_at').as('position_micros')])
  if (after !== undefined) query = query.where(afterPosition('created_at', 'client_id', after))
  return query.orderBy('created_at', 'desc').orderBy('client_id', 'desc').limit(limit).execute()
}

export async function updateClient (db: Executor, clientId: string, changes: OAuthClientUpdate): Promise<ClientRow | undefined> {
  return db.updateTable('oauth_clients').set(changes).where('client_id', '=', clientId).returning(SHOWN_COLUMNS).executeTakeFirst()
}

export async function deleteClient (db: Executor, clientId: string): Promise<boolean> {
  const result = await db.deleteFrom('oauth_clients').where('client_id', '=', clientId).executeTakeFirst()
  return result.numDeletedRows > 0n
}
