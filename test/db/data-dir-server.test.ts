import { once } from 'node:events'
import { readdirSync, readFileSync } from 'node:fs'
import { createServer, type AddressInfo } from 'node:net'
import { join } from 'node:path'
import t from 'tap'
import { cli } from '../cli/in-process.js'
import { failure, loosen, notPrivate, skip, startServer } from './data-dir-helpers.js'

/**
 * The embedded data directory with real servers (DESIGN.md, "Hardening rules → Embedded data
 * directory"): private whatever the umask, and one process at a time.
 */
const PASSWORD = 'correct horse battery'

async function token (url: string, username: string): Promise<Response> {
  return fetch(`${url}/api/v1/auth/token`, { method: 'POST', body: new URLSearchParams({ grant_type: 'password', username, password: PASSWORD }) })
}

t.test('a server started with umask 022: DATA_DIR private, one process at a time, a killed holder\'s lock taken over', { skip }, async (t) => {
  const dataDir = join(t.testdir(), 'data')
  const first = await startServer(t, { DATA_DIR: dataDir })
  const pid = first.child.pid ?? 0
  const register = await fetch(`${first.url}/api/v1/auth/register`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email: 'kept@example.com', username: 'kept', password: PASSWORD })
  })
  t.equal(register.status, 201, 'an account, its session and the RS256 signing key are written')
  t.same(notPrivate(dataDir), [], 'every directory is 0700 and every file 0600 while it runs')
  t.ok(readdirSync(join(dataDir, 'pg_wal')).some((name) => /^[0-9A-F]{24}$/.test(name)), 'the WAL is among them')

  const before = readdirSync(dataDir, { recursive: true }).sort()
  const admin = await cli(['create-admin', '--email', 'root@example.com', '--username', 'root'], { DATA_DIR: dataDir, ADMIN_PASSWORD: PASSWORD })
  t.equal(admin.code, 4, 'a CLI command exits 4')
  t.equal(admin.stdout, '')
  t.match(admin.stderr, new RegExp(`^user-service: DATA_DIR "${dataDir}" is in use by process ${pid}, since \\S+; stop the server \\(pid ${pid}\\) first, or use PostgreSQL \\(DATABASE_URL\\)[^\\n]*\\n$`))
  t.same(readdirSync(dataDir, { recursive: true }).sort(), before, 'the refused command left DATA_DIR as it was')
  const disable = await cli(['users', 'disable', 'kept'], { DATA_DIR: dataDir, PUBLIC_URL: first.url })
  t.equal(disable.code, 4, 'users … exits 4 too')
  t.match(disable.stderr, new RegExp(`^user-service: DATA_DIR "${dataDir}" is in use by process ${pid}, since \\S+; while the server runs, use its admin API instead \\(${first.url}/api/v1/admin/users\\), or stop the server \\(pid ${pid}\\) first\\n$`), 'and points to the admin API')
  const clients = await cli(['clients', 'list'], { DATA_DIR: dataDir, PUBLIC_URL: first.url })
  t.match(clients, { code: 4, stderr: /use its admin API instead \(\S+\/api\/v1\/admin\/clients\), or stop the server/ })
  t.equal((await token(first.url, 'kept')).status, 200, 'the account the refused command named still signs in')

  const second = await failure(['src/server.ts'], { DATA_DIR: dataDir })
  t.equal(second.code, 4, 'a second server exits 4')
  t.match(second.lines, [new RegExp(`^user-service: failed to start: DATA_DIR "${dataDir}" is in use by process ${pid}, since `)])
  t.equal(second.lines.length, 1, 'in one line')
  t.equal((await token(first.url, 'kept')).status, 200, 'the running server is unaffected')

  first.child.kill('SIGKILL')
  await first.exited
  t.equal((JSON.parse(readFileSync(join(dataDir, 'user-service.lock'), 'utf8')) as { pid: number }).pid, pid, 'the killed server left its lock behind')
  const entries = loosen(dataDir)

  const third = await startServer(t, { DATA_DIR: dataDir })
  const warnings = third.output().split('\n').filter((line) => line.includes('"level":40')).map((line) => (JSON.parse(line) as { msg: string }).msg)
  t.equal(warnings.length, 2, 'two warnings')
  t.equal(warnings[0], `DATA_DIR "${dataDir}": took over the lock of process ${pid}, which no longer runs`)
  // Every entry loosened but the lock file, which was replaced by the new holder's (0600).
  t.match(warnings[1], `DATA_DIR "${dataDir}": tightened the permissions of ${entries - 1} entries that other users could read or write (., `)
  t.equal((await token(third.url, 'kept')).status, 200, 'the account written before the kill is there')
  t.equal((await token(third.url, 'root')).status, 400, 'the refused create-admin created nothing')

  third.child.kill('SIGTERM')
  t.equal(await third.exited, 0)
  t.notOk(readdirSync(dataDir).includes('user-service.lock'), 'a clean stop releases the lock')
  t.same(notPrivate(dataDir), [], 'and everything is still private')
})

t.test('a server that cannot listen (its port taken) exits 1 and leaves no lock behind', { skip }, async (t) => {
  const blocker = createServer()
  blocker.listen(0, '127.0.0.1')
  await once(blocker, 'listening')
  t.teardown(() => { blocker.close() })
  const { port } = blocker.address() as AddressInfo
  const dataDir = join(t.testdirName, 'data')
  const started = await failure(['src/server.ts'], { DATA_DIR: dataDir, PORT: String(port) })
  t.equal(started.code, 1)
  t.match(started.lines, [/^user-service: failed to start: .*EADDRINUSE/])
  t.ok(readdirSync(dataDir).includes('PG_VERSION'), 'the database was opened first')
  t.notOk(readdirSync(dataDir).includes('user-service.lock'), 'and closed, which released the lock')
})
