import { sql } from 'kysely'
import t from 'tap'
import { AuditLog } from '../../src/audit/audit-log.js'
import { loadConfig } from '../../src/config.js'
import { buildApp, testConfig, testDatabaseKind } from '../helper.js'
import { auditRows } from './audit-helpers.js'

t.test('AUDIT_RETENTION_DAYS: 90 by default, a whole number of days from 1', async (t) => {
  t.equal(testConfig().audit.retentionDays, 90)
  t.equal(testConfig({ AUDIT_RETENTION_DAYS: '7' }).audit.retentionDays, 7)
  for (const bad of ['0', '1.5', 'forever']) t.throws(() => loadConfig({ AUDIT_RETENTION_DAYS: bad }), /AUDIT_RETENTION_DAYS/, bad)
})

t.test('the prune deletes events older than the retention only, in bounded batches', async (t) => {
  const { app } = await buildApp(t, { env: { AUDIT_RETENTION_DAYS: '30' } })
  const ages = [400, 90, 45, 31, 30.5, 29, 1, 0]
  await app.db.insertInto('audit_events')
    .values(ages.map((days) => ({ action: 'logout', outcome: 'success', at: sql<Date>`now() - make_interval(secs => ${days * 86400})`, details: JSON.stringify({ days }) })))
    .execute()

  t.equal(await new AuditLog(app.db, 30).prune(2), 5, 'three batches of at most 2')
  const kept = await auditRows(app.db)
  t.same(kept.map((event) => event.details.days), [29, 1, 0])
  t.equal(await app.auditLog.prune(), 0, 'nothing more to do')
})

t.test('the periodic prune job deletes old events too', async (t) => {
  const { app } = await buildApp(t, { env: { SESSION_PRUNE_INTERVAL_MINUTES: '0.005' } })
  await app.db.insertInto('audit_events')
    .values([{ action: 'logout', outcome: 'success', at: sql<Date>`now() - interval '91 days'` }, { action: 'register', outcome: 'success' }])
    .execute()
  // Polled until pruned (the job runs every 0.3 s); 60 s is a deadline, not a measurement.
  let left = 2
  for (const deadline = Date.now() + 60_000; left > 1 && Date.now() < deadline;) {
    await new Promise((resolve) => setTimeout(resolve, 200))
    left = (await auditRows(app.db)).length
  }
  t.same((await auditRows(app.db)).map((event) => event.action), ['register'])
})

t.test('an instance that finds the prune lock taken skips', {
  skip: testDatabaseKind() === 'postgres' ? false : 'needs TEST_DB=postgres: PGlite has one connection, so no second instance can hold the lock'
}, async (t) => {
  const { app } = await buildApp(t)
  await app.db.transaction().execute(async (trx) => {
    await sql`select pg_advisory_xact_lock(hashtext('user-service:prune-audit-events'))`.execute(trx)
    t.equal(await app.auditLog.prune(), null)
  })
  t.equal(await app.auditLog.prune(), 0, 'once the lock is free')
})
