import t from 'tap'
import { sql } from 'kysely'
import { openPostgres } from '../../src/db/connect.js'
import { buildApp, registerAccount, testDatabaseKind } from '../helper.js'
import { decodeJwt } from './jwt-forge.js'

/** The longest grace window there is: every racing refresh falls inside it, however slow the machine. */
const GRACE_SECONDS = 300

t.test(`20 parallel refreshes of one token on two instances sharing the ${testDatabaseKind()} database`, async (t) => {
  const env = { REFRESH_REUSE_GRACE_SECONDS: String(GRACE_SECONDS) }
  const first = await buildApp(t, { env })
  const second = await buildApp(t, { env, database: first.database })
  const account = await registerAccount(first.app)
  const login = await first.app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { login: account.email, password: account.password } })
  const original = login.json<{ access_token: string, refresh_token: string }>()
  const sid = decodeJwt(original.access_token).payload.sid as string

  const responses = await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 === 0 ? first : second).app.inject({
    method: 'POST', url: '/api/v1/auth/refresh', payload: { refresh_token: original.refresh_token }
  })))
  const statuses = responses.map((response) => response.statusCode)
  t.notOk(statuses.some((status) => status >= 500), 'no 5xx')
  t.equal(statuses.filter((status) => status === 200).length, 1, 'exactly one refresh wins')
  t.ok(responses.filter((response) => response.statusCode !== 200).every((response) => response.statusCode === 400 && /already used/.test(response.json().detail)),
    'the others are told the token was already used')

  const live = await first.app.db.selectFrom('refresh_tokens').select('token_hash').where('session_id', '=', sid).where('rotated_at', 'is', null).execute()
  t.equal(live.length, 1, 'one live successor')
  const session = await first.app.db.selectFrom('sessions').selectAll().where('id', '=', sid).executeTakeFirstOrThrow()
  t.equal(session.revoked_at, null, 'the session survives the race')

  const winner = responses.find((response) => response.statusCode === 200)?.json<{ refresh_token: string }>()
  const next = await second.app.inject({ method: 'POST', url: '/api/v1/auth/refresh', payload: { refresh_token: winner?.refresh_token } })
  t.equal(next.statusCode, 200, 'the successor works on the other instance')

  // The window ends without waiting for it: the rotation moves back in time, past the grace.
  await first.app.db.updateTable('refresh_tokens')
    .set({ rotated_at: sql`rotated_at - make_interval(secs => ${GRACE_SECONDS + 1})` })
    .where('session_id', '=', sid).where('rotated_at', 'is not', null).execute()
  const replay = await second.app.inject({ method: 'POST', url: '/api/v1/auth/refresh', payload: { refresh_token: original.refresh_token } })
  t.equal(replay.statusCode, 400)
  const revoked = await first.app.db.selectFrom('sessions').selectAll().where('id', '=', sid).executeTakeFirstOrThrow()
  t.equal(revoked.revoked_reason, 'refresh_token_reuse', 'a replay after the window ends the session')
})

t.test('a refresh waiting on its session while a logout commits is refused, and rotates nothing', {
  skip: testDatabaseKind() === 'postgres' ? false : 'needs a second connection holding a row lock (TEST_DB=postgres)'
}, async (t) => {
  const { app, database } = await buildApp(t)
  const account = await registerAccount(app)
  const login = await app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { login: account.email, password: account.password } })
  const { access_token: accessToken, refresh_token: refreshToken } = login.json<{ access_token: string, refresh_token: string }>()
  const sid = decodeJwt(accessToken).payload.sid as string

  // Another instance's logout, paused while it holds the session row.
  const other = openPostgres(database.url ?? '', 1)
  t.teardown(other.close)
  let locked!: () => void
  let commit!: () => void
  const lockTaken = new Promise<void>((resolve) => { locked = resolve })
  const commitAllowed = new Promise<void>((resolve) => { commit = resolve })
  const logout = other.db.transaction().execute(async (trx) => {
    await sql`select id from sessions where id = ${sid} for update`.execute(trx)
    locked()
    await commitAllowed
    await trx.updateTable('sessions').set({ revoked_at: sql`now()`, revoked_reason: 'logout' }).where('id', '=', sid).execute()
  })
  await lockTaken
  const refreshing = app.inject({ method: 'POST', url: '/api/v1/auth/refresh', payload: { refresh_token: refreshToken } })
  await waitUntil(async () => {
    const { rows } = await sql<{ waiting: number }>`select count(*)::int as waiting from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock'`.execute(app.db)
    return rows[0]?.waiting === 1
  })
  commit()
  await logout

  const response = await refreshing
  t.equal(response.statusCode, 400)
  t.equal(response.json().detail, 'the session of this refresh token has ended')
  const tokens = await app.db.selectFrom('refresh_tokens').select(['rotated_at']).where('session_id', '=', sid).execute()
  t.same(tokens, [{ rotated_at: null }], 'the presented token was not rotated and no successor was stored')
  const session = await app.db.selectFrom('sessions').select(['revoked_reason']).where('id', '=', sid).executeTakeFirstOrThrow()
  t.equal(session.revoked_reason, 'logout')
})

/** Polls `condition` until it holds; 60 s is a deadline for a stuck test, not a measurement. */
async function waitUntil (condition: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 60_000
  while (Date.now() < deadline) {
    if (await condition()) return
    await new Promise((resolve) => setTimeout(resolve, 25))
  }
  throw new Error('condition not reached in 60 s')
}
