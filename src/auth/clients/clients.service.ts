import type { Kysely } from 'kysely'
import { v7 as uuidv7 } from 'uuid'
import type { AuditLog } from '../../audit/audit-log.js'
import { eventBy, type AuditDetails, type AuditSource } from '../../audit/events.js'
import type { Database, Executor } from '../../db/types.js'
import { decodeCursor, toPage } from '../../db/pagination.js'
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
  constructor (private readonly db: Kysely<Database>, private readonly audit: AuditLog) {}

  async create (source: AuditSource, input: NewClient): Promise<ClientWithSecret> {
    checkGrants(input.type, input.grant_types)
    const secret = input.type === 'confidential' ? newClientSecret() : null
    const client = await this.#changing(source, 'client_created', {}, (trx) => insertClient(trx, {
      client_id: uuidv7(),
      name: input.name,
      type: input.type,
      secret_hash: secret === null ? null : hashClientSecret(secret),
      grant_types: input.grant_types,
      audience: input.audience ?? null,
      scopes: input.scopes ?? []
    }))
    return { client, secret }
  }

  async list (limit: number, cursor?: string): Promise<{ items: ClientRow[], nextCursor: string | null }> {
    const rows = await listClients(this.db, limit + 1, cursor === undefined ? undefined : decodeCursor(cursor))
    return toPage(rows, limit, (row) => row.client_id)
  }

  async get (clientId: string): Promise<ClientRow> {
    const client = await findClient(this.db, clientId)
    if (client === undefined) throw noSuchClient()
    return client
  }

  async update (source: AuditSource, clientId: string, changes: ClientChanges): Promise<ClientRow> {
    if (changes.grant_types !== undefined) checkGrants((await this.get(clientId)).type, changes.grant_types)
    const updated = await this.#changing(source, 'client_changed', { changed: Object.keys(changes) }, (trx) => updateClient(trx, clientId, changes))
    if (updated === undefined) throw noSuchClient()
    return updated
  }

  /** A new secret for a confidential client; the old one stops working at once. */
  async rotateSecret (source: AuditSource, clientId: string): Promise<ClientWithSecret> {
    const current = await this.get(clientId)
    if (current.type !== 'confidential') throw new AppError('bad_request', 'a public client has no secret to rotate')
    const secret = newClientSecret()
    const client = await this.#changing(source, 'client_changed', { changed: ['secret'] },
      (trx) => updateClient(trx, clientId, { secret_hash: hashClientSecret(secret), secret_rotated_at: new Date() }))
    if (client === undefined) throw noSuchClient()
    return { client, secret }
  }

  async delete (source: AuditSource, clientId: string): Promise<void> {
    const deleted = await this.#changing(source, 'client_changed', { deleted: true }, async (trx) => (await deleteClient(trx, clientId)) ? { client_id: clientId } : undefined)
    if (deleted === undefined) throw noSuchClient()
  }

  /** Runs `change` and, when it found its client, records `action` by `source` in the same transaction. */
  async #changing<T extends { client_id: string } | undefined> (source: AuditSource, action: 'client_created' | 'client_changed',
    details: AuditDetails, change: (trx: Executor) => Promise<T>): Promise<T> {
    return this.audit.transaction(async (trx, record) => {
      const result = await change(trx)
      if (result !== undefined) await record({ ...eventBy(source, { action, outcome: 'success' }, null, details), clientId: result.client_id })
      return result
    })
  }
}
