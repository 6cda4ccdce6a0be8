import type { Kysely } from 'kysely'
import { v7 as uuidv7 } from 'uuid'
import type { Database } from '../../db/types.js'
import { decodeCursor, encodeCursor } from '../../db/pagination.js'
import { AppError } from '../../errors.js'
import { hashClientSecret, newClientSecret } from './client-secrets.js'
import { deleteClient, findClient, insertClient, listClients, updateClient, type ClientRow } from './clients.repository.js'

export const GRANT_TYPES = ['password', 'refresh_token', 'client_credentials'] as const
export type GrantType = typeof GRANT_TYPES[number]
export type ClientType = 'public' | 'confidential'

export interface NewClient {
  name: string
  type: ClientType
  grant_types: GrantType[]
  audience?: string | null | undefined
  scopes?: string[] | undefined
}

export interface ClientChanges {
  name?: string | undefined
  grant_types?: GrantType[] | undefined
  audience?: string | null | undefined
  scopes?: string[] | undefined
  disabled?: boolean | undefined
}

/** A client and, right after its creation or a rotation only, its secret in clear. */
export interface ClientWithSecret {
  client: ClientRow
  secret: string | null
}

function noSuchClient (): AppError {
  return new AppError('not_found', 'no such client')
}

/** client_credentials is for clients that can keep a secret (RFC 6749 §4.4). */
function checkGrants (type: ClientType, grants: GrantType[]): void {
  if (type === 'public' && grants.includes('client_credentials')) {
    throw new AppError('validation_failed', 'a public client cannot use client_credentials', {
      errors: [{ path: '/grant_types', message: 'client_credentials needs a confidential client' }]
    })
  }
}

/** The OAuth client registry (DESIGN "OAuth clients"). */
export class ClientsService {
  constructor (private readonly db: Kysely<Database>) {}

  async create (input: NewClient): Promise<ClientWithSecret> {
    checkGrants(input.type, input.grant_types)
    const secret = input.type === 'confidential' ? newClientSecret() : null
    const client = await insertClient(this.db, {
      client_id: uuidv7(),
      name: input.name,
      type: input.type,
      secret_hash: secret === null ? null : hashClientSecret(secret),
      grant_types: input.grant_types,
      audience: input.audience ?? null,
      scopes: input.scopes ?? []
    })
    return { client, secret }
  }

  async list (limit: number, cursor?: string): Promise<{ items: ClientRow[], nextCursor: string | null }> {
    const rows = await listClients(this.db, limit + 1, cursor === undefined ? undefined : decodeCursor(cursor))
    const items = rows.slice(0, limit)
    const last = items.at(-1)
    const nextCursor = rows.length > limit && last !== undefined ? encodeCursor({ createdMicros: last.created_micros, id: last.client_id }) : null
    return { items: items.map(({ created_micros: _position, ...client }) => client), nextCursor }
  }

  async get (clientId: string): Promise<ClientRow> {
    const client = await findClient(this.db, clientId)
    if (client === undefined) throw noSuchClient()
    return client
  }

  async update (clientId: string, changes: ClientChanges): Promise<ClientRow> {
    if (changes.grant_types !== undefined) checkGrants((await this.get(clientId)).type, changes.grant_types)
    const updated = await updateClient(this.db, clientId, changes)
    if (updated === undefined) throw noSuchClient()
    return updated
  }

  /** A new secret for a confidential client; the old one stops working at once. */
  async rotateSecret (clientId: string): Promise<ClientWithSecret> {
    const current = await this.get(clientId)
    if (current.type !== 'confidential') throw new AppError('bad_request', 'a public client has no secret to rotate')
    const secret = newClientSecret()
    const client = await updateClient(this.db, clientId, { secret_hash: hashClientSecret(secret), secret_rotated_at: new Date() })
    if (client === undefined) throw noSuchClient()
    return { client, secret }
  }

  async delete (clientId: string): Promise<void> {
    if (!await deleteClient(this.db, clientId)) throw noSuchClient()
  }
}
