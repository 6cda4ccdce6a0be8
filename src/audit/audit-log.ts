import type { Kysely, Transaction } from 'kysely'
import type { AuditEventRow, Database } from '../db/types.js'
import { decodeCursor, toPage } from '../db/pagination.js'
import { insertAuditEvent, listAuditEvents, pageAuditEvents, pruneAuditEventsBatch, type AuditFilter } from './audit.repository.js'
import type { AuditEvent, AuditKind, AuditObserver } from './events.js'

/** How many old events one prune statement deletes at most: a short transaction, a bounded lock. */
export const AUDIT_PRUNE_BATCH = 1000

/** Records an event inside the transaction it was given to. */
export type RecordInTransaction = (event: AuditEvent) => Promise<void>

/**
 * The audit trail (DESIGN "Audit events"): every event is written in the same transaction as
 * the change it records, or in the same statement on the hot paths (register, login, refresh:
 * see sessions.repository.ts), and counted (`audit_events_written_total`) once it is stored.
 */
export class AuditLog {
  constructor (
    private readonly db: Kysely<Database>,
    private readonly retentionDays: number,
    private readonly observer?: AuditObserver
  ) {}

  /**
   * Writes an event that goes with no change, in a statement of its own: a failed or
   * throttled login. A change records its event with `transaction` instead.
   */
  async record (event: AuditEvent): Promise<void> {
    await insertAuditEvent(this.db, event)
    this.written(event)
  }

  /** Runs `work` in a transaction; the events it records are stored with it, and counted once it commits. */
  async transaction<T> (work: (trx: Transaction<Database>, record: RecordInTransaction) => Promise<T>): Promise<T> {
    const recorded: AuditKind[] = []
    const result = await this.db.transaction().execute((trx) => work(trx, async (event) => {
      await insertAuditEvent(trx, event)
      recorded.push(event)
    }))
    for (const event of recorded) this.written(event)
    return result
  }

  /** Counts an event a statement has stored (the hot paths write theirs in SQL of their own). */
  written (kind: AuditKind): void {
    this.observer?.auditWritten(kind.action, kind.outcome)
  }

  /** The newest `limit` events that match, newest first. */
  async list (filter: AuditFilter): Promise<AuditEventRow[]> {
    return listAuditEvents(this.db, filter)
  }

  /** A page of the events that match, newest first, after the page `cursor` ended (GET /admin/audit-events). */
  async page (filter: AuditFilter, cursor?: string): Promise<{ items: AuditEventRow[], nextCursor: string | null }> {
    const rows = await pageAuditEvents(this.db, { ...filter, limit: filter.limit + 1 }, cursor === undefined ? undefined : decodeCursor(cursor))
    return toPage(rows, filter.limit, (row) => row.id)
  }

  /**
   * Deletes the events older than AUDIT_RETENTION_DAYS, a bounded batch per transaction;
   * null when another instance is pruning right now.
   */
  async prune (batchSize = AUDIT_PRUNE_BATCH): Promise<number | null> {
    let total = 0
    for (;;) {
      const deleted = await this.db.transaction().execute((trx) => pruneAuditEventsBatch(trx, this.retentionDays, batchSize))
      if (deleted === null) return total === 0 ? null : total
      total += deleted
      if (deleted < batchSize) return total
    }
  }
}
