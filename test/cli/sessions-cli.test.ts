import t from 'tap'
import { bearer, buildApp, registerAccount, testDatabaseKind } from '../helper.js'
import { cli } from './in-process.js'

t.test('sessions: usage errors exit 2', async (t) => {
  const missing = await cli(['sessions'], {})
  t.equal(missing.code, 2)
  t.match(missing.stderr, /sessions needs a subcommand: prune/)
  const unknown = await cli(['sessions', 'purge'], {})
  t.equal(unknown.code, 2)
  t.match(unknown.stderr, /unknown sessions subcommand "purge"/)
  t.equal((await cli(['sessions', 'prune', 'extra'], {})).code, 2)
})

t.test('sessions prune deletes ended sessions of a running service\'s database', {
  skip: testDatabaseKind() === 'postgres' ? false : 'needs TEST_DB=postgres: the CLI opens the database by URL, and an embedded one cannot be shared with the test'
}, async (t) => {
  const { app, database } = await buildApp(t)
  const account = await registerAccount(app)
  await app.inject({ method: 'POST', url: '/api/v1/auth/logout', headers: bearer(account.accessToken) })
  const keeper = await registerAccount(app)

  const result = await cli(['sessions', 'prune'], { DATABASE_URL: database.url ?? '' })
  t.equal(result.code, 0, result.stderr)
  t.equal(result.stdout, 'pruned 1 session\npruned 0 audit events\n')
  const left = await app.db.selectFrom('sessions').select('user_id').execute()
  t.same(left.map((row) => row.user_id), [keeper.id])
})
