import t from 'tap'
import { auditRows } from '../audit/audit-helpers.js'
import { registerAdmin } from '../admin/helpers.js'
import { buildApp, registerAccount, testDatabaseKind } from '../helper.js'
import { cli } from './in-process.js'

const onPostgres = testDatabaseKind() === 'postgres'
  ? false
  : 'needs TEST_DB=postgres: the CLI opens the database by URL, and an embedded one cannot be shared with the test'

t.test('users: usage errors exit 2 before the database is opened', async (t) => {
  for (const [argv, message] of [
    [['users'], /users needs a subcommand: list, show, disable, enable, set-roles, set-password/],
    [['users', 'purge'], /unknown users subcommand "purge"/],
    [['users', 'show'], /users show takes a user \(id, email or username\)/],
    [['users', 'set-roles', 'alice'], /takes a user and a comma-separated list of roles/],
    [['users', 'set-roles', 'alice', 'root'], /roles must be a comma-separated list of user, admin, service \(got "root"\)/],
    [['users', 'list', '--limit', '0'], /--limit must be a whole number from 1 to 200/],
    [['users', 'list', '--active', 'yes'], /--active must be true or false/],
    [['users', 'list', '--bogus'], /Unknown option '--bogus'/]
  ] as const) {
    const result = await cli([...argv], { DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none' })
    t.equal(result.code, 2, argv.join(' '))
    t.match(result.stderr, message)
  }
})

t.test('users list, show, disable, enable, set-roles and set-password work on a service\'s database', { skip: onPostgres }, async (t) => {
  const { app, database } = await buildApp(t)
  const env = { DATABASE_URL: database.url ?? '' }
  const admin = await registerAdmin(app)
  const bob = await registerAccount(app)

  const listed = await cli(['users', 'list', '--json'], env)
  t.equal(listed.code, 0, listed.stderr)
  t.same(listed.stdout.trim().split('\n').map((line) => (JSON.parse(line) as { id: string }).id), [bob.id, admin.id], 'JSON lines, newest first')
  const plain = await cli(['users', 'show', bob.username], env)
  t.equal(plain.stdout, `${bob.id}\t${bob.email}\t${bob.username}\tuser\tactive\n`, 'by username, tab-separated')

  t.match((await cli(['users', 'disable', bob.email, '--json'], env)).stdout, /"is_active":false/)
  t.equal((await app.db.selectFrom('sessions').select('id').where('user_id', '=', bob.id).where('revoked_at', 'is', null).execute()).length, 0, 'its sessions ended')
  t.equal((await cli(['users', 'enable', bob.id], env)).code, 0)
  t.match((await cli(['users', 'set-roles', bob.id, 'user,service'], env)).stdout, /\tuser,service\tactive\n$/)
  const weak = await cli(['users', 'set-password', bob.id], { ...env, NEW_PASSWORD: 'password' })
  t.equal(weak.code, 2, 'the password policy applies')
  t.equal((await cli(['users', 'set-password', bob.id], env, 'a new pebble path\n')).code, 0, 'from stdin')
  const login = await app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { login: bob.email, password: 'a new pebble path' } })
  t.equal(login.statusCode, 200)

  const lastAdmin = await cli(['users', 'set-roles', admin.id, 'user'], env)
  t.equal(lastAdmin.code, 1)
  t.match(lastAdmin.stderr, /last active admin/)
  const missing = await cli(['users', 'show', 'nobody-at-all'], env)
  t.equal(missing.code, 1)
  t.match(missing.stderr, /no user has the id, email or username "nobody-at-all"/)
  const events = (await auditRows(app.db)).filter((event) => (event.details as { via?: string }).via === 'cli')
  t.same(events.map((event) => event.action), ['account_disabled', 'account_enabled', 'roles_changed', 'password_changed'])
})
