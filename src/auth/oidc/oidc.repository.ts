import { sql } from 'kysely'
import { v7 as uuidv7 } from 'uuid'
import type { Executor, NewOidcFlowRow, OidcFlowRow, UserIdentityRow } from '../../db/types.js'

/** A flow whose callback has just been consumed: what the callback needs to finish it. */
export type ConsumedFlow = Pick<OidcFlowRow, 'id' | 'provider' | 'nonce' | 'code_verifier' | 'redirect_uri' | 'client_state'>

/** A one-time code just redeemed: what the token endpoint checks before it signs the user in. */
export type RedeemedCode = Pick<OidcFlowRow, 'redirect_uri' | 'code_challenge'> & { user_id: string }

export async function insertFlow (db: Executor, flow: NewOidcFlowRow): Promise<void> {
  await db.insertInto('oidc_flows').values(flow).execute()
}

/**
 * Marks the flow of `stateHash` consumed and returns it, if it was unconsumed and unexpired:
 * one statement, so of two callbacks with the same state exactly one gets the flow.
 */
export async function consumeFlow (db: Executor, stateHash: string): Promise<ConsumedFlow | undefined> {
  return db.updateTable('oidc_flows')
    .set({ consumed_at: sql`now()` })
    .where('state_hash', '=', stateHash)
    .where('consumed_at', 'is', null)
    .where('expires_at', '>', sql<Date>`now()`)
    .returning(['id', 'provider', 'nonce', 'code_verifier', 'redirect_uri', 'client_state'])
    .executeTakeFirst()
}

/** The flow's one-time code for `userId`, valid until `expiresAt`; the PKCE verifier is no longer needed. */
export async function attachCode (db: Executor, flowId: string, codeHash: string, userId: string, expiresAt: Date): Promise<void> {
  await db.updateTable('oidc_flows')
    .set({ code_hash: codeHash, user_id: userId, code_expires_at: expiresAt, code_verifier: '' })
    .where('id', '=', flowId)
    .execute()
}

/** Uses the code of `codeHash` once, if it is unused and unexpired: one statement, so one redemption wins. */
export async function redeemCode (db: Executor, codeHash: string): Promise<RedeemedCode | undefined> {
  const row = await db.updateTable('oidc_flows')
    .set({ code_used_at: sql`now()` })
    .where('code_hash', '=', codeHash)
    .where('code_used_at', 'is', null)
    .where('code_expires_at', '>', sql<Date>`now()`)
    .returning(['redirect_uri', 'code_challenge', 'user_id'])
    .executeTakeFirst()
  return row === undefined || row.user_id === null ? undefined : { ...row, user_id: row.user_id }
}

/** Deletes flows that ended (expired, or their code used or expired) before `before`. */
export async function deleteFlowsBefore (db: Executor, before: Date): Promise<number> {
  const result = await db.deleteFrom('oidc_flows').where('expires_at', '<', before).executeTakeFirst()
  return Number(result.numDeletedRows)
}

export async function findIdentity (db: Executor, provider: string, subject: string): Promise<UserIdentityRow | undefined> {
  return db.selectFrom('user_identities').selectAll()
    .where('provider', '=', provider).where('subject', '=', subject)
    .executeTakeFirst()
}

export async function insertIdentity (db: Executor, identity: { provider: string, subject: string, userId: string, email: string | null }): Promise<void> {
  await db.insertInto('user_identities')
    .values({ id: uuidv7(), provider: identity.provider, subject: identity.subject, user_id: identity.userId, email: identity.email })
    .execute()
}

export async function touchIdentity (db: Executor, id: string): Promise<void> {
  await db.updateTable('user_identities').set({ last_login_at: sql`now()` }).where('id', '=', id).execute()
}
