import t from 'tap'
import { auditRows } from '../audit/audit-helpers.js'
import { buildApp, testDatabaseKind } from '../helper.js'
import { cli } from './in-process.js'

t.test('clients: usage errors exit 2 before the database is opened', async (t) => {
  const env = { DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none' }
  for (const [argv, message] of [
    [['clients'], /clients needs a subcommand: create, list, rotate-secret, delete/],
    [['clients', 'create', '--type', 'public', '--grant', 'password'], /--name is required/],
    [['clients', 'create', '--name', 'x', '--type', 'secret', '--grant', 'password'], /--type must be public or confidential/],
    [['clients', 'create', '--name', 'x', '--type', 'public', '--grant', 'implicit'], /--grant must name one or more of password, refresh_token, client_credentials/],
    [['clients', 'create', '--name', 'x', '--type', 'public', '--grant', 'password', '--scope', 'a b'], /is not a scope token/],
    [['clients', 'delete', 'not-a-uuid'], /a client id is a UUID/],
    [['clients', 'rotate-secret'], /takes a client id/]
  ] as const) {
    const result = await cli([...argv], env)
    t.equal(result.code, 2, argv.join(' '))
    t.match(result.stderr, message)
  }
})

t.test('clients create prints the secret once; rotate-secret, list and delete', {
  skip: testDatabaseKind() === 'postgres' ? false : 'needs TEST_DB=postgres: the CLI opens the database by URL, and an embedded one cannot be shared with the test'
}, async (t) => {
  const { app, database } = await buildApp(t)
  const env = { DATABASE_URL: database.url ?? '' }
  const created = await cli(['clients', 'create', '--name', 'orders-service', '--type', 'confidential', '--grant', 'client_credentials', '--audience', 'orders', '--scope', 'revocations:read', '--json'], env)
  t.equal(created.code, 0, created.stderr)
  const client = JSON.parse(created.stdout) as { client_id: string, client_secret: string, scopes: string[] }
  t.match(client, { type: 'confidential', audience: 'orders', scopes: ['revocations:read'] })
  t.match(client.client_secret, /^[A-Za-z0-9_-]{43}$/)
  const issued = await app.inject({ method: 'POST', url: '/api/v1/auth/token', headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: `grant_type=client_credentials&client_id=${client.client_id}&client_secret=${client.client_secret}` })
  t.equal(issued.statusCode, 200, 'the printed secret works')

  const listed = await cli(['clients', 'list'], env)
  t.equal(listed.stdout, `${client.client_id}\torders-service\tconfidential\tclient_credentials\tenabled\n`)
  t.notMatch(listed.stdout, client.client_secret, 'never shown again')
  const rotated = await cli(['clients', 'rotate-secret', client.client_id], env)
  t.match(rotated.stdout, /\nclient_secret=[A-Za-z0-9_-]{43}\n$/)
  t.equal((await cli(['clients', 'delete', client.client_id], env)).code, 0)
  const gone = await cli(['clients', 'delete', client.client_id], env)
  t.equal(gone.code, 1)
  t.match(gone.stderr, /no such client/)
  t.same((await auditRows(app.db)).map((event) => event.action), ['client_created', 'client_changed', 'client_changed'])
})
