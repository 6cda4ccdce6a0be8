import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import t from 'tap'
import { childEnv, createTestDatabase } from '../helper.js'
import { withAdminClient } from '../setup/databases.js'

/** Starts `src/server.ts` as a real process; resolves with its base URL once it listens. */
async function startServer (env: Record<string, string>): Promise<{ child: ChildProcess, url: string, output: () => string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
    env: childEnv({ PORT: '0', LOG_LEVEL: 'info', ...env }),
    stdio: ['ignore', 'pipe', 'pipe']
  })
  let output = ''
  child.stderr?.on('data', (chunk: Buffer) => { output += chunk.toString() })
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start:\n${output}`)), 90_000)
    child.stdout?.on('data', (chunk: Buffer) => {
      output += chunk.toString()
      const match = /Server listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(output)
      if (match?.[1] !== undefined) { clearTimeout(timer); resolve(match[1]) }
    })
    child.on('exit', (code) => { clearTimeout(timer); reject(new Error(`server exited with ${code}:\n${output}`)) })
  })
  return { child, url, output: () => output }
}

/** The database the child uses: PGlite in a test directory, or a fresh PostgreSQL test database. */
async function childDatabase (t: { teardown: (fn: () => unknown) => void, testdir: () => string }): Promise<{ env: Record<string, string>, connections: () => Promise<number> }> {
  const database = await createTestDatabase()
  t.teardown(database.drop)
  if (database.url === null) return { env: { DATA_DIR: join(t.testdir(), 'data') }, connections: async () => 0 }
  const name = new URL(database.url).pathname.slice(1)
  const connections = async (): Promise<number> => withAdminClient(async (client) => {
    const { rows } = await client.query<{ n: number }>("select count(*)::int as n from pg_stat_activity where datname = $1 and application_name = 'user-service'", [name])
    return rows[0]?.n ?? 0
  })
  return { env: { DATABASE_URL: database.url, MIGRATE_ON_START: 'true' }, connections }
}

t.test('SIGTERM: stops accepting, finishes the in-flight request, closes the pool, exits 0 within 10 s', async (t) => {
  const { env, connections } = await childDatabase(t)
  // A deliberately slow password hash keeps the registration in flight when the signal comes.
  const server = await startServer({ ...env, ARGON2_TIME_COST: '40' })
  t.teardown(() => { server.child.kill('SIGKILL') })

  const inFlight = fetch(`${server.url}/api/v1/auth/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email: 'inflight@example.com', username: 'inflight', password: 'correct horse battery' })
  })
  await sleep(300)
  const exited = once(server.child, 'exit') as Promise<[number | null, string | null]>
  const signalledAt = Date.now()
  server.child.kill('SIGTERM')

  await sleep(100)
  await t.rejects(fetch(`${server.url}/health`), 'no new connections are accepted')
  const response = await inFlight
  t.equal(response.status, 201, 'the in-flight request completed')
  const [code] = await exited
  t.equal(code, 0, 'exit code 0')
  t.ok(Date.now() - signalledAt < 10_000, `exited ${Date.now() - signalledAt} ms after SIGTERM`)
  t.match(server.output(), /shutting down/)
  t.equal(await connections(), 0, 'no database connection left behind')
})
