import t from 'tap'
import { migratedDatabaseEnv } from '../setup/databases.js'
import { cli } from './in-process.js'

const ADMIN_PASSWORD = 'a long admin passphrase'

interface Line { id: string, at: string, action: string, outcome: string, actor_user_id: string | null, subject_user_id: string | null, details: Record<string, unknown> }

async function tail (args: string[], env: Record<string, string>): Promise<Line[]> {
  const result = await cli(['audit', 'tail', ...args], env)
  if (result.code !== 0) throw new Error(result.stderr)
  if (!/^(\{.*\}\n)*$/.test(result.stdout)) throw new Error(`not one JSON object per line: ${result.stdout}`)
  return result.stdout.split('\n').filter((line) => line !== '').map((line) => JSON.parse(line) as Line)
}

t.test('audit tail prints CLI changes as JSON lines, oldest first, filtered', async (t) => {
  const env = { ...await migratedDatabaseEnv(t), MIGRATE_ON_START: 'false', KEYS_ENCRYPTION_KEY: 'test-only-encryption-key-of-32-characters!' }
  t.same(await tail([], env), [], 'nothing yet')

  const admin = await cli(['create-admin', '--email', 'ops@example.com', '--username', 'ops'], { ...env, ADMIN_PASSWORD })
  t.equal(admin.code, 0, admin.stderr)
  const adminId = /\(([0-9a-f-]{36})\)/.exec(admin.stdout)?.[1] ?? ''
  const first = await cli(['keys', 'rotate'], env)
  t.equal(first.code, 0, first.stderr)
  const second = await cli(['keys', 'rotate'], env)
  const kids = [first, second].map((result) => /^new signing key (\S+)/m.exec(result.stdout)?.[1] ?? '')

  const all = await tail([], env)
  t.same(all.map((line) => [line.action, line.outcome, line.actor_user_id, line.subject_user_id]), [
    ['register', 'success', null, adminId],
    ['key_rotated', 'success', null, null],
    ['key_rotated', 'success', null, null]
  ])
  t.same(all[0]?.details, { via: 'cli', roles: ['user', 'admin'], is_active: true }, 'create-admin records what POST /admin/users records')
  t.same(all.slice(1).map((line) => line.details), [
    { via: 'cli', kid: kids[0], algorithm: 'RS256', retired: [] },
    { via: 'cli', kid: kids[1], algorithm: 'RS256', retired: [kids[0]] }
  ])
  t.ok(all.every((line) => new Date(line.at).toISOString() === line.at), 'ISO 8601 times')
  t.notMatch(JSON.stringify(all), ADMIN_PASSWORD)

  t.same((await tail(['--limit', '1'], env)).map((line) => line.details.kid), [kids[1]], 'the newest')
  t.same((await tail(['--limit=2'], env)).map((line) => line.details.kid), kids, 'the newest two, oldest first')
  t.same((await tail(['--action', 'register'], env)).map((line) => line.subject_user_id), [adminId])
  t.same((await tail(['--user', adminId.toUpperCase()], env)).map((line) => line.action), ['register'])
  t.same(await tail(['--action', 'logout'], env), [])
})

t.test('audit: bad arguments exit 2 with a clear message', async (t) => {
  const cases: Array<[string[], RegExp]> = [
    [['audit'], /audit needs a subcommand: tail/],
    [['audit', 'head'], /unknown audit subcommand "head"/],
    [['audit', 'tail', 'extra'], /unexpected argument "extra"/],
    [['audit', 'tail', '--limit', '0'], /--limit must be a whole number from 1 to 10000 \(got "0"\)/],
    [['audit', 'tail', '--limit', '10001'], /--limit must be a whole number/],
    [['audit', 'tail', '--limit', '2.5'], /--limit must be a whole number/],
    [['audit', 'tail', '--limit', 'ten'], /--limit must be a whole number/],
    [['audit', 'tail', '--action', 'login_failed'], /--action must be one of register, login, refresh_token_reuse, /],
    [['audit', 'tail', '--user', 'ops'], /--user must be a user id \(a UUID; got "ops"\)/],
    [['audit', 'tail', '--since', 'yesterday'], /Unknown option '--since'/]
  ]
  for (const [argv, message] of cases) {
    const result = await cli(argv, {})
    t.equal(result.code, 2, argv.join(' '))
    t.match(result.stderr, message)
    t.equal(result.stdout, '')
  }
})
