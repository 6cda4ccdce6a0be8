import { sql } from 'kysely'
import t from 'tap'
import { findUserWithSession } from '../../src/auth/sessions/sessions.repository.js'
import { openPostgres } from '../../src/db/connect.js'
import { PrecompiledQuery } from '../../src/db/precompiled.js'
import { decodeJwt } from '../auth/jwt-forge.js'
import { buildApp, registerAccount, testDatabaseKind } from '../helper.js'

t.test('a precompiled query takes new arguments on every call and keeps its constants', async (t) => {
  const { app } = await buildApp(t)
  const alice = await registerAccount(app)
  const bob = await registerAccount(app)
  const byIdAndRole = new PrecompiledQuery((db, id: string, name: string) => db.selectFrom('users')
    .select(['username', sql<string>`${name}::text`.as('echo')])
    .where('id', '=', id)
    .where('is_active', '=', true), ['\u0000id', '\u0000name'])

  t.same(await byIdAndRole.execute(app.db, alice.id, 'first'), [{ username: alice.username, echo: 'first' }])
  t.same(await byIdAndRole.execute(app.db, bob.id, 'second'), [{ username: bob.username, echo: 'second' }])
  await app.db.updateTable('users').set({ is_active: false }).where('id', '=', bob.id).execute()
  t.same(await byIdAndRole.execute(app.db, bob.id, 'third'), [], 'the constant (is_active = true) is still there')
  await app.db.transaction().execute(async (trx) => {
    t.same(await byIdAndRole.execute(trx, alice.id, 'in a transaction'), [{ username: alice.username, echo: 'in a transaction' }])
  })
})

t.test('a query that ignores an argument is refused when first compiled', async (t) => {
  const { app } = await buildApp(t)
  const careless = new PrecompiledQuery((db, _id: string) => db.selectFrom('users').select('id'), ['\u0000id'])
  await t.rejects(careless.execute(app.db, 'x'), /does not use its arguments/)
})

t.test('on PostgreSQL the per-request read is a named prepared statement that survives an added column', {
  skip: testDatabaseKind() === 'postgres' ? false : 'prepared statements are a PostgreSQL driver feature (TEST_DB=postgres)'
}, async (t) => {
  const { app, database } = await buildApp(t)
  const account = await registerAccount(app)
  const { sid } = decodeJwt(account.accessToken).payload as { sid: string }
  // One connection, so the statement prepared by the read is visible to the next query.
  const single = openPostgres(database.url ?? '', 1)
  t.teardown(single.close)
  const before = await findUserWithSession(single.db, account.id, sid)
  t.equal(before?.session_live, true)
  const { rows } = await sql<{ name: string, statement: string }>`select name, statement from pg_prepared_statements`.execute(single.db)
  t.equal(rows.length, 1, 'one statement prepared on this connection')
  t.match(rows[0]?.name, /^us_[0-9a-f]{24}$/)
  t.match(rows[0]?.statement, /left join "sessions"/)

  await sql`alter table users add column nickname text`.execute(app.db)
  t.teardown(async () => { await sql`alter table users drop column if exists nickname`.execute(app.db) })
  const after = await findUserWithSession(single.db, account.id, sid)
  t.same(after, before, 'the cached plan still answers after a migration adds a column')
})
