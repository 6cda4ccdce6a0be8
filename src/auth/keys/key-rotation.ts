import type { Kysely } from 'kysely'
import { insertAuditEvent } from '../../audit/audit.repository.js'
import { eventBy, type AuditSource } from '../../audit/events.js'
import type { Database, SigningKeyRow } from '../../db/types.js'
import { generateSigningKeyPair, type AsymmetricAlgorithm, type KeyEncryption } from './key-material.js'
import { expireKeyNow, findActiveKey, findKey, insertSigningKey, lockSigningKeys, retireKeys } from './signing-keys.repository.js'

/**
 * How long after a key stops signing it must still verify: the longest access-token lifetime,
 * plus the longest time another instance may go on signing with it before its periodic
 * refresh notices the rotation (KEYS_REFRESH_INTERVAL_MS is at most 60 s).
 */
export const MAX_REFRESH_LAG_SECONDS = 60

export function retirementGraceSeconds (expireMinutes: number): number {
  return expireMinutes * 60 + MAX_REFRESH_LAG_SECONDS
}

async function insertNewKey (db: Kysely<Database>, algorithm: AsymmetricAlgorithm, encryption: KeyEncryption): Promise<string> {
  const pair = await generateSigningKeyPair(algorithm)
  await insertSigningKey(db, {
    kid: pair.kid,
    algorithm,
    public_key: pair.publicKey,
    private_key: encryption.seal(pair.kid, pair.privateKey)
  })
  return pair.kid
}

/** Makes sure an active key of `algorithm` exists (under an advisory lock, so instances agree on one). */
export async function ensureActiveKey (db: Kysely<Database>, algorithm: AsymmetricAlgorithm, encryption: KeyEncryption): Promise<void> {
  await db.transaction().execute(async (trx) => {
    await lockSigningKeys(trx)
    if (await findActiveKey(trx, algorithm) !== undefined) return
    await insertNewKey(trx, algorithm, encryption)
  })
}

export interface RotationResult {
  kid: string
  retired: string[]
}

/**
 * A new active key of `algorithm`; the previously active ones retire and keep verifying for
 * `graceSeconds`. The audit event (key_rotated, by `source`) is written in the same transaction.
 */
export async function rotateKey (db: Kysely<Database>, algorithm: AsymmetricAlgorithm, encryption: KeyEncryption, graceSeconds: number, source: AuditSource): Promise<RotationResult> {
  return db.transaction().execute(async (trx) => {
    await lockSigningKeys(trx)
    const previous = await trx.selectFrom('signing_keys').select('kid')
      .where('algorithm', '=', algorithm).where('status', '=', 'active').execute()
    const retired = previous.map((row) => row.kid)
    await retireKeys(trx, retired, graceSeconds)
    const kid = await insertNewKey(trx, algorithm, encryption)
    await insertAuditEvent(trx, eventBy(source, { action: 'key_rotated', outcome: 'success' }, null, { kid, algorithm, retired }))
    return { kid, retired }
  })
}

export type RetireOutcome =
  | { outcome: 'retired', key: SigningKeyRow }
  | { outcome: 'unknown' }
  | { outcome: 'active_signer' }

/**
 * Retires a key that no longer signs (rotate first to retire the current signer), or, with
 * `immediately`, makes a retired key stop verifying now (a compromised key).
 */
export async function retireKey (db: Kysely<Database>, kid: string, options: { graceSeconds: number, immediately: boolean }): Promise<RetireOutcome> {
  return db.transaction().execute(async (trx) => {
    await lockSigningKeys(trx)
    const key = await findKey(trx, kid)
    if (key === undefined) return { outcome: 'unknown' as const }
    if (key.status === 'active') {
      const signer = await findActiveKey(trx, key.algorithm)
      if (signer?.kid === kid) return { outcome: 'active_signer' as const }
      await retireKeys(trx, [kid], options.graceSeconds)
    }
    if (options.immediately) await expireKeyNow(trx, kid)
    return { outcome: 'retired' as const, key: await findKey(trx, kid) as SigningKeyRow }
  })
}
