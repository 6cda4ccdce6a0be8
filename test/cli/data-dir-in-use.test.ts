import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { loadConfig } from '../../src/config.js'
import { openDatabase } from '../../src/db/connect.js'
import { testDatabaseKind } from '../helper.js'
import { migratedDatabaseEnv } from '../setup/databases.js'
import { cli } from './in-process.js'

/**
 * The CLI on an embedded DATA_DIR that a server holds (README, "CLI"): every command exits 4 in
 * one line and changes nothing; those the admin API can do instead say so, with its address.
 * The real server process is in test/db/data-dir-server.test.ts; here this process holds the
 * directory as a server does, so the message can be compared whole.
 */
const PUBLIC_URL = 'https://users.example.test'
const PASSWORD = 'correct horse battery'

t.test('users, clients and audit on a held DATA_DIR: exit 4, the admin API to use instead, nothing changed', {
  skip: testDatabaseKind() === 'postgres' && 'DATA_DIR is the embedded (PGlite) database only'
}, async (t) => {
  const database = await migratedDatabaseEnv(t)
  const dataDir = database.DATA_DIR ?? ''
  const env = { ...database, PUBLIC_URL, ADMIN_PASSWORD: PASSWORD, NEW_PASSWORD: 'a new long passphrase' }
  t.equal((await cli(['create-admin', '--email', 'ops@example.com', '--username', 'ops'], env)).code, 0, 'an admin')
  const created = await cli(['clients', 'create', '--name', 'orders-service', '--type', 'confidential', '--grant', 'client_credentials', '--json'], env)
  const clientId = (JSON.parse(created.stdout) as { client_id: string }).client_id
  /** What the refused commands would change: the accounts, the clients, the audit events (one command at a time: one process per DATA_DIR). */
  const state = async (): Promise<string[]> => {
    const outputs: string[] = []
    for (const argv of [['users', 'list', '--json'], ['clients', 'list', '--json'], ['audit', 'tail']]) outputs.push((await cli(argv, env)).stdout)
    return outputs
  }
  const before = await state()
  t.match(before, [/"username":"ops"/, /"name":"orders-service"/, /"action":"client_created"/], 'an account, a client and their events')

  // The server's part: the directory opened as a server opens it, held until closed.
  const server = await openDatabase(loadConfig(env).database)
  let held = true
  t.teardown(async () => { if (held) await server.close() })
  const files = readdirSync(dataDir, { recursive: true }).sort()
  const { since } = JSON.parse(readFileSync(join(dataDir, 'user-service.lock'), 'utf8')) as { since: string }
  const inUse = `user-service: DATA_DIR "${dataDir}" is in use by process ${process.pid}, since ${since}`

  for (const [argv, api] of [
    [['users', 'list'], 'users'],
    [['users', 'disable', 'ops'], 'users'],
    [['users', 'set-roles', 'ops', 'user'], 'users'],
    [['users', 'set-password', 'ops'], 'users'],
    [['clients', 'create', '--name', 'billing', '--type', 'public', '--grant', 'password'], 'clients'],
    [['clients', 'rotate-secret', clientId], 'clients'],
    [['clients', 'delete', clientId], 'clients'],
    [['audit', 'tail'], 'audit-events']
  ] as const) {
    t.same(await cli([...argv], env), {
      code: 4,
      stdout: '',
      stderr: `${inUse}; while the server runs, use its admin API instead (${PUBLIC_URL}/api/v1/admin/${api}), or stop the server (pid ${process.pid}) first\n`
    }, `${argv.join(' ')}: exit 4, one line naming ${api} of the admin API`)
  }
  t.same(await cli(['create-admin', '--email', 'root@example.com', '--username', 'root'], env), {
    code: 4,
    stdout: '',
    stderr: `${inUse}; stop the server (pid ${process.pid}) first, or use PostgreSQL (DATABASE_URL) to run several processes on one database\n`
  }, 'create-admin (the first admin, before anyone can use the admin API) keeps the general advice')
  t.same(readdirSync(dataDir, { recursive: true }).sort(), files, 'the refused commands left DATA_DIR as it was')

  held = false
  await server.close()
  t.same(await state(), before, 'once the server is gone: the same accounts, clients and audit events as before')
})
