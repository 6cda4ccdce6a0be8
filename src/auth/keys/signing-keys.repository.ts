import { sql } from 'kysely'
import type { Executor, NewSigningKeyRow, SigningKeyRow } from '../../db/types.js'

/**
 * Keys of `algorithm` that verify tokens (and are published in the JWKS): the active ones and
 * retired ones before their `not_after`. Newest active first: the first row signs.
 */
export async function findVerifyingKeys (db: Executor, algorithm: string): Promise<SigningKeyRow[]> {
  return db.selectFrom('signing_keys')
    .selectAll()
    .where('algorithm', '=', algorithm)
    .where((eb) => eb.or([eb('status', '=', 'active'), eb('not_after', '>', sql<Date>`now()`)]))
    .orderBy(sql`status = 'active'`, 'desc')
    .orderBy('activated_at', 'desc')
    .orderBy('kid', 'desc')
    .execute()
}

export async function findActiveKey (db: Executor, algorithm: string): Promise<SigningKeyRow | undefined> {
  return db.selectFrom('signing_keys')
    .selectAll()
    .where('algorithm', '=', algorithm)
    .where('status', '=', 'active')
    .orderBy('activated_at', 'desc')
    .orderBy('kid', 'desc')
    .executeTakeFirst()
}

export async function findKey (db: Executor, kid: string): Promise<SigningKeyRow | undefined> {
  return db.selectFrom('signing_keys').selectAll().where('kid', '=', kid).executeTakeFirst()
}

export async function listKeys (db: Executor): Promise<SigningKeyRow[]> {
  return db.selectFrom('signing_keys').selectAll().orderBy('activated_at', 'desc').orderBy('kid', 'desc').execute()
}

export async function insertSigningKey (db: Executor, row: NewSigningKeyRow): Promise<void> {
  await db.insertInto('signing_keys').values(row).onConflict((oc) => oc.column('kid').doNothing()).execute()
}

/** Stops a key signing; it keeps verifying (and stays in the JWKS) for `graceSeconds`. */
export async function retireKeys (db: Executor, kids: string[], graceSeconds: number): Promise<void> {
  if (kids.length === 0) return
  await db.updateTable('signing_keys')
    .set({
      status: 'retired',
      retired_at: sql<Date>`now()`,
      not_after: sql<Date>`now() + make_interval(secs => ${graceSeconds})`
    })
    .where('kid', 'in', kids)
    .execute()
}

/** Shortens a retired key's remaining life (never lengthens it). */
export async function expireKeyNow (db: Executor, kid: string): Promise<void> {
  await db.updateTable('signing_keys')
    .set({ not_after: sql<Date>`least(not_after, now())` })
    .where('kid', '=', kid)
    .where('status', '=', 'retired')
    .execute()
}

/** Serialises key creation and rotation across instances sharing the database, for the rest of the transaction. */
export async function lockSigningKeys (db: Executor): Promise<void> {
  await sql`select pg_advisory_xact_lock(hashtext('user-service:signing_keys'))`.execute(db)
}
