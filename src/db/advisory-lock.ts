import { sql } from 'kysely'
import type { Executor } from './types.js'

/**
 * Takes the transaction-scoped advisory lock `name` if it is free (it is released at commit or
 * rollback); false when another transaction holds it, so a periodic job on several instances
 * runs on one at a time and the others skip instead of waiting.
 */
export async function tryTransactionLock (db: Executor, name: string): Promise<boolean> {
  const locked = await sql<{ locked: boolean }>`select pg_try_advisory_xact_lock(hashtext(${name})) as locked`.execute(db)
  return locked.rows[0]?.locked === true
}
