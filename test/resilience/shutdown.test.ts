import { once } from 'node:events'
import { get, request } from 'node:http'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import t from 'tap'
import { createTestDatabase, testDatabaseKind } from '../helper.js'
import { withAdminClient } from '../setup/databases.js'
import { startServerProcess as startServer } from '../server-process.js'

/** The database the child uses: PGlite in a test directory, or a fresh PostgreSQL test database. */
async function childDatabase (t: { teardown: (fn: () => unknown) => void, testdir: () => string }): Promise<{ env: Record<string, string>, connections: () => Promise<number> }> {
  if (testDatabaseKind() === 'pglite') return { env: { DATA_DIR: join(t.testdir(), 'data') }, connections: async () => 0 }
  const database = await createTestDatabase()
  t.teardown(database.drop)
  if (database.url === null) throw new Error('a PostgreSQL test database has a URL')
  const name = new URL(database.url).pathname.slice(1)
  const connections = async (): Promise<number> => withAdminClient(async (client) => {
    const { rows } = await client.query<{ n: number }>("select count(*)::int as n from pg_stat_activity where datname = $1 and application_name = 'user-service'", [name])
    return rows[0]?.n ?? 0
  })
  return { env: { DATABASE_URL: database.url, MIGRATE_ON_START: 'true' }, connections }
}

/**
 * A registration the server has begun (it answered "100 Continue" to its headers) whose body the
 * test sends when it chooses: it is in flight for as long as the test needs, however slow the machine.
 */
async function heldRegistration (url: string): Promise<{ finish: () => void, response: Promise<{ status: number, body: string }> }> {
  const body = JSON.stringify({ email: 'inflight@example.com', username: 'inflight', password: 'correct horse battery' })
  const held = request(`${url}/api/v1/auth/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), expect: '100-continue' }
  })
  const response = new Promise<{ status: number, body: string }>((resolve, reject) => {
    held.on('error', reject)
    held.on('response', (res) => {
      let text = ''
      res.on('data', (chunk: Buffer) => { text += chunk.toString() })
      res.on('end', () => { resolve({ status: res.statusCode ?? 0, body: text }) })
    })
  })
  response.catch(() => {})
  held.flushHeaders()
  await once(held, 'continue')
  return { finish: () => { held.end(body) }, response }
}

/** Whether a new connection to the server is refused (a fresh connection each time, never a kept-alive one). */
async function refused (url: string): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = get(`${url}/health`, { agent: false }, (response) => { response.resume(); resolve(false) })
    probe.on('error', () => { resolve(true) })
  })
}

t.test('SIGTERM: stops accepting, finishes the in-flight request, closes the pool, exits 0 within the 10 s grace', async (t) => {
  const { env, connections } = await childDatabase(t)
  const server = await startServer(env)
  t.teardown(() => { server.child.kill('SIGKILL') })

  const inFlight = await heldRegistration(server.url)
  const exited = once(server.child, 'exit') as Promise<[number | null, string | null]>
  const signalledAt = Date.now()
  server.child.kill('SIGTERM')

  // New connections are refused while the request is still in flight (its body not even sent);
  // polled, with a deadline for a stuck test rather than a measurement.
  let closedToNew = false
  for (const deadline = Date.now() + 60_000; !closedToNew && Date.now() < deadline;) {
    closedToNew = await refused(server.url)
    if (!closedToNew) await sleep(50)
  }
  t.ok(closedToNew, 'no new connections are accepted')
  inFlight.finish()
  const response = await inFlight.response
  t.equal(response.status, 201, `the in-flight request completed${response.status === 201 ? '' : `: ${response.body}`}`)
  const [code] = await exited
  // close-with-grace exits 1 ("killed by timeout") if closing takes more than its 10 s delay.
  t.equal(code, 0, `exit code 0, not the grace timeout's 1 (exited ${Date.now() - signalledAt} ms after SIGTERM)`)
  t.match(server.output(), /shutting down/)
  t.notMatch(server.output(), /killed by timeout/)
  t.equal(await connections(), 0, 'no database connection left behind')
})
