import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { access, cp } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import argon2 from 'argon2'
import t, { type Test } from 'tap'
import { migrations } from '../../migrations/index.js'
import { loadConfig } from '../../src/config.js'
import { openDatabase, type DatabaseHandle } from '../../src/db/connect.js'
import { buildApp, childEnv, testDatabaseKind } from '../helper.js'
import { databaseUrl, migratedDatabaseEnv, pgliteDirectoryTemplate, withAdminClient } from '../setup/databases.js'
import { cli, type CliResult } from './in-process.js'

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..')
const MIGRATIONS = Object.keys(migrations)
const LAST = MIGRATIONS.at(-1) ?? ''
const PASSWORD = 'correct horse battery'

/** Environment pointing at a fresh, empty (unmigrated) database of the kind this run tests. */
async function emptyDatabaseEnv (t: Test): Promise<Record<string, string>> {
  if (testDatabaseKind() === 'pglite') {
    const dataDir = join(t.testdir(), 'data')
    await cp(await pgliteDirectoryTemplate('empty'), dataDir, { recursive: true })
    return { DATA_DIR: dataDir }
  }
  const name = `us_test_${process.pid}_${randomBytes(4).toString('hex')}`
  await withAdminClient((client) => client.query(`create database ${name}`))
  t.teardown(() => withAdminClient((client) => client.query(`drop database if exists ${name} with (force)`)))
  // PostgreSQL does not migrate on start by default; the tests that want it say so.
  return { DATABASE_URL: databaseUrl(name) }
}

function lines (text: string): string[] {
  return text.split('\n').filter((line) => line !== '')
}

/** Opens the database the CLI used (after the CLI closed it), closed at the end of the test. */
async function openSame (t: Test, env: Record<string, string>): Promise<DatabaseHandle> {
  const handle = await openDatabase(loadConfig(env).database)
  t.teardown(() => handle.close())
  return handle
}

/** An environment whose database is migrated (so create-admin can run on either kind): a copy of the migrated template. */
async function migratedEnv (t: Test): Promise<Record<string, string>> {
  return migratedDatabaseEnv(t)
}

t.test('migrate status, up, down', async (t) => {
  const env = await emptyDatabaseEnv(t)

  const nothing = await cli(['migrate', 'down'], env)
  t.equal(nothing.code, 0)
  t.same(lines(nothing.stdout), ['nothing to roll back'])

  const before = await cli(['migrate', 'status'], env)
  t.equal(before.code, 0, 'status exits 0 without --check')
  t.same(lines(before.stdout), MIGRATIONS.map((name) => `pending  ${name}`))
  t.equal(before.stderr, '')

  const check = await cli(['migrate', 'status', '--check'], env)
  t.equal(check.code, 3, '--check exits 3 when migrations are pending')
  t.same(lines(check.stdout), MIGRATIONS.map((name) => `pending  ${name}`))

  const up = await cli(['migrate', 'up'], env)
  t.equal(up.code, 0)
  t.same(lines(up.stdout), [...MIGRATIONS.map((name) => `applied  ${name}`), `applied ${MIGRATIONS.length} migrations`])

  const again = await cli(['migrate', 'up'], env)
  t.equal(again.code, 0)
  t.same(lines(again.stdout), ['already up to date'])

  const after = await cli(['migrate', 'status', '--check'], env)
  t.equal(after.code, 0, '--check exits 0 when everything is applied')
  const applied = lines(after.stdout)
  t.equal(applied.length, MIGRATIONS.length)
  for (const [index, name] of MIGRATIONS.entries()) {
    const match = /^applied {2}(\S+) {2}(\S+)$/.exec(applied[index] ?? '')
    t.equal(match?.[1], name)
    t.equal(new Date(match?.[2] ?? '').toISOString(), match?.[2], 'an ISO timestamp')
  }

  const down = await cli(['migrate', 'down'], env)
  t.equal(down.code, 0)
  t.same(lines(down.stdout), [`reverted  ${LAST}`, 'rolled back 1 migration'])

  const status = await cli(['migrate', 'status', '--check'], env)
  t.equal(status.code, 3)
  const statusLines = lines(status.stdout)
  t.equal(statusLines.length, MIGRATIONS.length)
  for (const [index, name] of MIGRATIONS.slice(0, -1).entries()) t.match(statusLines[index], new RegExp(`^applied {2}${name} {2}\\S+$`))
  t.equal(statusLines.at(-1), `pending  ${LAST}`)

  // Only the last migration was rolled back: the first one's table is still there.
  const { db } = await openSame(t, env)
  const tables = await db.introspection.getTables()
  t.ok(tables.some((table) => table.name === 'users'), 'users table kept')
})

t.test('create-admin with ADMIN_PASSWORD creates an admin who can log in', async (t) => {
  const env = await migratedEnv(t)
  const result = await cli(['create-admin', '--email', ' Alice@Example.com ', '--username', 'alice', '--full-name', 'Alice Liddell'], { ...env, ADMIN_PASSWORD: PASSWORD })
  t.equal(result.code, 0, result.stderr)
  t.equal(result.stderr, '')
  const match = /^created admin alice \(([0-9a-f-]{36})\) <alice@example\.com>$/.exec(result.stdout.trimEnd())
  t.ok(match, `one line with the id: ${result.stdout}`)

  const handle = await openSame(t, env)
  const rows = await handle.db.selectFrom('users').selectAll().execute()
  t.equal(rows.length, 1)
  const row = rows[0]
  t.equal(row?.id, match?.[1], 'the printed id is the new user')
  t.equal(row?.email, 'alice@example.com', 'email normalised like the API does')
  t.equal(row?.full_name, 'Alice Liddell')
  t.same(row?.roles, ['user', 'admin'])
  t.match(row?.hashed_password, /^\$argon2id\$/)
  t.not(row?.hashed_password, PASSWORD)
  t.ok(await argon2.verify(row?.hashed_password ?? '', PASSWORD), 'the hash is of the given password')

  // The same database, served by the app: the admin logs in through the API.
  const { app } = await buildApp(t, { database: { handle, kind: handle.kind, url: env.DATABASE_URL ?? null, drop: async () => {} } })
  const login = await app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { login: 'alice', password: PASSWORD } })
  t.equal(login.statusCode, 200, login.body)
  t.same(login.json().user.roles, ['user', 'admin'])
})

t.test('create-admin reads the password from stdin, without the trailing newline', async (t) => {
  const env = await migratedEnv(t)
  const result = await cli(['create-admin', '--email=bob@example.com', '--username=bob'], env, 'stdin password 1\n')
  t.equal(result.code, 0, result.stderr)
  t.match(result.stdout, /^created admin bob \(/)
  const { db } = await openSame(t, env)
  const row = await db.selectFrom('users').selectAll().executeTakeFirstOrThrow()
  t.ok(await argon2.verify(row.hashed_password ?? '', 'stdin password 1'))
  t.notOk(await argon2.verify(row.hashed_password ?? '', 'stdin password 1\n'))
  t.equal(row.full_name, null)
})

t.test('create-admin migrates first when MIGRATE_ON_START is true', async (t) => {
  // PGlite migrates by default, like the server; PostgreSQL needs it asked for.
  const env = { ...await emptyDatabaseEnv(t), ...(testDatabaseKind() === 'postgres' ? { MIGRATE_ON_START: 'true' } : {}) }
  const result = await cli(['create-admin', '--email', 'carol@example.com', '--username', 'carol'], { ...env, ADMIN_PASSWORD: PASSWORD })
  t.equal(result.code, 0, result.stderr)
  t.match(result.stderr, new RegExp(`^user-service: applied ${MIGRATIONS.length} migrations: `))
  t.match(result.stdout, /^created admin carol /)
  const status = await cli(['migrate', 'status', '--check'], env)
  t.equal(status.code, 0)
})

t.test('create-admin refuses a database with pending migrations when MIGRATE_ON_START=false', async (t) => {
  const env = { ...await emptyDatabaseEnv(t), MIGRATE_ON_START: 'false' }
  const result = await cli(['create-admin', '--email', 'dave@example.com', '--username', 'dave'], { ...env, ADMIN_PASSWORD: PASSWORD })
  t.equal(result.code, 3)
  t.equal(result.stdout, '')
  t.match(result.stderr, new RegExp(`^user-service: the database has ${MIGRATIONS.length} pending migrations .*migrate up`))
  const status = await cli(['migrate', 'status', '--check'], env)
  t.equal(status.code, 3, 'nothing was migrated')
})

t.test('create-admin refuses bad input without touching the database', async (t) => {
  // A database that does not exist: opening it would create the directory (PGlite) or fail with exit 1 (PostgreSQL).
  const dataDir = join(t.testdir(), 'never-created')
  const env: Record<string, string> = testDatabaseKind() === 'pglite' ? { DATA_DIR: dataDir } : { DATABASE_URL: databaseUrl(`us_test_${process.pid}_never_created`) }
  const base = ['create-admin', '--email', 'erin@example.com', '--username', 'erin']
  const cases: Array<{ name: string, argv: string[], env?: Record<string, string>, stdin?: string | 'tty', code: number, stderr: RegExp }> = [
    { name: 'no password, empty stdin', argv: base, code: 2, stderr: /^user-service: no password given: set ADMIN_PASSWORD or pipe/ },
    { name: 'no password, stdin is a terminal', argv: base, stdin: 'tty', code: 2, stderr: /^user-service: no password given/ },
    { name: 'short password', argv: base, env: { ADMIN_PASSWORD: 'short' }, code: 2, stderr: /^user-service: invalid password: .*8/ },
    { name: 'too long password', argv: base, env: { ADMIN_PASSWORD: 'x'.repeat(129) }, code: 2, stderr: /^user-service: invalid password: .*128/ },
    { name: 'too long password in characters', argv: base, env: { ADMIN_PASSWORD: '🔑'.repeat(129) }, code: 2, stderr: /^user-service: invalid password: .*128/ },
    { name: 'NUL in password', argv: base, env: { ADMIN_PASSWORD: 'long enough\0password' }, code: 2, stderr: /^user-service: password must not contain NUL bytes/ },
    { name: 'bad email', argv: ['create-admin', '--email', 'not-an-email', '--username', 'erin'], env: { ADMIN_PASSWORD: PASSWORD }, code: 2, stderr: /^user-service: invalid --email: / },
    { name: 'bad username', argv: ['create-admin', '--email', 'erin@example.com', '--username', 'e r'], env: { ADMIN_PASSWORD: PASSWORD }, code: 2, stderr: /^user-service: invalid --username: / },
    { name: 'missing --email', argv: ['create-admin', '--username', 'erin'], env: { ADMIN_PASSWORD: PASSWORD }, code: 2, stderr: /^user-service: create-admin needs --email/ },
    { name: 'missing --username', argv: ['create-admin', '--email', 'erin@example.com'], env: { ADMIN_PASSWORD: PASSWORD }, code: 2, stderr: /^user-service: create-admin needs --username/ },
    { name: 'unknown option', argv: [...base, '--role', 'root'], env: { ADMIN_PASSWORD: PASSWORD }, code: 2, stderr: /^user-service: Unknown option '--role'/ }
  ]
  for (const item of cases) {
    const result = await cli(item.argv, { ...env, ...item.env }, item.stdin)
    t.equal(result.code, item.code, `${item.name}: exit code`)
    t.match(result.stderr, item.stderr, `${item.name}: message`)
    t.equal(result.stdout, '', `${item.name}: nothing on stdout`)
    t.notMatch(result.stderr, /long enough|x{129}/, `${item.name}: the password is not echoed`)
  }
  t.notOk(await access(dataDir).then(() => true, () => false), 'the database was not opened')
})

t.test('create-admin counts a password in characters, as the API does', async (t) => {
  // 128 characters outside the BMP are 256 UTF-16 code units: both must accept them.
  const password = '🔑'.repeat(128)
  const env = await migratedEnv(t)
  const result = await cli(['create-admin', '--email', 'keys@example.com', '--username', 'keys'], { ...env, ADMIN_PASSWORD: password })
  t.equal(result.code, 0, result.stderr)
  const handle = await openSame(t, env)
  const { app } = await buildApp(t, { database: { handle, kind: handle.kind, url: env.DATABASE_URL ?? null, drop: async () => {} } })
  const login = await app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { login: 'keys', password } })
  t.equal(login.statusCode, 200, 'the admin logs in with it')
  const register = await app.inject({ method: 'POST', url: '/api/v1/auth/register', payload: { email: 'other@example.com', username: 'other', password } })
  t.equal(register.statusCode, 201, 'the API registers the same password')
})

t.test('create-admin with a taken email or username exits 1', async (t) => {
  const env = { ...await migratedEnv(t), ADMIN_PASSWORD: PASSWORD }
  t.equal((await cli(['create-admin', '--email', 'frank@example.com', '--username', 'frank'], env)).code, 0)

  const email = await cli(['create-admin', '--email', 'FRANK@example.com', '--username', 'frank2'], env)
  t.equal(email.code, 1)
  t.equal(email.stdout, '')
  t.equal(email.stderr, 'user-service: an account with this email already exists\n')

  const username = await cli(['create-admin', '--email', 'frank2@example.com', '--username', 'Frank'], env)
  t.equal(username.code, 1)
  t.equal(username.stderr, 'user-service: this username is already taken\n')

  const { db } = await openSame(t, env)
  const rows = await db.selectFrom('users').select('username').execute()
  t.same(rows.map((row) => row.username), ['frank'], 'no second account')
})

t.test('usage', async (t) => {
  const none = await cli([], {})
  t.equal(none.code, 2)
  t.match(none.stderr, /^Usage: user-service <command>/)
  t.match(none.stderr, /Exit codes:/)

  const help = await cli(['help'], {})
  t.equal(help.code, 0)
  t.match(help.stdout, /^Usage: user-service <command>/)
  t.match(help.stdout, /3 {2}migrations pending/)

  const unknown = await cli(['frobnicate'], {})
  t.equal(unknown.code, 2)
  t.match(unknown.stderr, /^user-service: unknown command "frobnicate"/)
  t.match(unknown.stderr, /Usage: user-service/)
  t.equal(unknown.stdout, '')

  const sub = await cli(['migrate', 'sideways'], {})
  t.equal(sub.code, 2)
  t.match(sub.stderr, /^user-service: unknown migrate subcommand "sideways"/)
  t.match(sub.stderr, /Usage: user-service/)

  const missing = await cli(['migrate'], {})
  t.equal(missing.code, 2)
  t.match(missing.stderr, /^user-service: migrate needs a subcommand/)

  const checkOnUp = await cli(['migrate', 'up', '--check'], {})
  t.equal(checkOnUp.code, 2, '--check only goes with status')

  const serveArgs = await cli(['serve', 'now'], {})
  t.equal(serveArgs.code, 2)
  t.match(serveArgs.stderr, /^user-service: serve takes no arguments/)
})

t.test('bad configuration exits 2 naming the variable', async (t) => {
  const dataDir = join(t.testdir(), 'data')
  for (const [name, value] of [['PORT', 'abc'], ['JWT_ALGORITHM', 'none'], ['DATABASE_URL', 'mysql://localhost/db']] as const) {
    for (const argv of [['migrate', 'status'], ['create-admin', '--email', 'g@example.com', '--username', 'gina'], ['serve']]) {
      const result = await cli(argv, { DATA_DIR: dataDir, ADMIN_PASSWORD: PASSWORD, [name]: value })
      t.equal(result.code, 2, `${name} with ${argv[0] ?? ''}`)
      t.match(result.stderr, new RegExp(`^user-service: invalid configuration: .*${name}`))
      t.equal(lines(result.stderr).length, 1, 'one line')
    }
  }
  const memory = await cli(['migrate', 'up'], { DATABASE_URL: 'memory://' })
  t.equal(memory.code, 2)
  t.match(memory.stderr, /^user-service: DATABASE_URL=memory:\/\/ is an in-memory database/)
})

t.test('an unreachable database is a failure (exit 1) with a message', { skip: testDatabaseKind() !== 'postgres' && 'needs TEST_DB=postgres' }, async (t) => {
  const result = await cli(['migrate', 'status'], { DATABASE_URL: databaseUrl(`us_test_${process.pid}_does_not_exist`) })
  t.equal(result.code, 1)
  t.match(result.stderr, /^user-service: .*does_not_exist/)
})

/** The real entry point, as a separate process, from a directory without a .env file. */
async function spawnCli (args: string[], env: Record<string, string>, cwd: string, stdin = ''): Promise<CliResult> {
  const child = spawn(process.execPath, ['--import', import.meta.resolve('tsx'), join(root, 'src', 'cli.ts'), ...args], {
    cwd,
    env: childEnv({ LOG_LEVEL: 'silent', ...env }),
    stdio: ['pipe', 'pipe', 'pipe']
  })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (chunk: Buffer) => { stdout += chunk.toString('utf8') })
  child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString('utf8') })
  child.stdin.end(stdin)
  const code = await new Promise<number>((resolve, reject) => {
    child.on('error', reject)
    child.on('close', (exitCode) => resolve(exitCode ?? -1))
  })
  return { code, stdout, stderr }
}

t.test('the entry point works as a real process', async (t) => {
  const env = { ...await emptyDatabaseEnv(t), MIGRATE_ON_START: 'true' }
  const cwd = t.testdir()

  const status = await spawnCli(['migrate', 'status', '--check'], env, cwd)
  t.equal(status.code, 3, status.stderr)
  t.same(lines(status.stdout), MIGRATIONS.map((name) => `pending  ${name}`))

  const created = await spawnCli(['create-admin', '--email', 'hana@example.com', '--username', 'hana'], env, cwd, `${PASSWORD}\n`)
  t.equal(created.code, 0, created.stderr)
  t.match(created.stdout, /^created admin hana \([0-9a-f-]{36}\) <hana@example\.com>\n$/)
})
