import t from 'tap'
import { hashClientSecret } from '../../src/auth/clients/client-secrets.js'
import { buildApp, registerAccount } from '../helper.js'
import { asAdmin, registerAdmin } from './helpers.js'

interface Client { client_id: string, client_secret?: string, name: string, type: string, grant_types: string[], audience: string | null, scopes: string[], disabled: boolean }

t.test('an admin registers a confidential client: the secret is shown once and stored only as a hash', async (t) => {
  const { app } = await buildApp(t)
  const admin = await registerAdmin(app)
  const created = await asAdmin(app, admin, { method: 'POST', url: '/clients', payload: { name: 'orders-service', type: 'confidential', grant_types: ['client_credentials'], audience: 'orders', scopes: ['revocations:read'] } })
  t.equal(created.statusCode, 201)
  const client = created.json<Client>()
  t.equal(created.headers.location, `/api/v1/admin/clients/${client.client_id}`)
  t.match(client, { name: 'orders-service', type: 'confidential', grant_types: ['client_credentials'], audience: 'orders', scopes: ['revocations:read'], disabled: false })
  t.match(client.client_secret, /^[A-Za-z0-9_-]{43}$/, '256 random bits')
  const row = await app.db.selectFrom('oauth_clients').selectAll().where('client_id', '=', client.client_id).executeTakeFirstOrThrow()
  t.equal(row.secret_hash, hashClientSecret(client.client_secret ?? ''), 'the hash, not the secret')
  t.notMatch(JSON.stringify(row), client.client_secret ?? 'x')

  const shown = await asAdmin(app, admin, { method: 'GET', url: `/clients/${client.client_id}` })
  t.equal(shown.statusCode, 200)
  t.notOk('client_secret' in shown.json(), 'never shown again')
  const listed = await asAdmin(app, admin, { method: 'GET', url: '/clients' })
  t.match(listed.json(), { items: [{ client_id: client.client_id }], next_cursor: null })
  t.notMatch(listed.body, /client_secret|secret_hash/)

  const rotated = await asAdmin(app, admin, { method: 'POST', url: `/clients/${client.client_id}/secret` })
  t.equal(rotated.statusCode, 200)
  const newSecret = rotated.json<Client>().client_secret ?? ''
  t.not(newSecret, client.client_secret)
  const after = await app.db.selectFrom('oauth_clients').select(['secret_hash', 'secret_rotated_at']).where('client_id', '=', client.client_id).executeTakeFirstOrThrow()
  t.equal(after.secret_hash, hashClientSecret(newSecret))
  t.ok(after.secret_rotated_at instanceof Date)
})

t.test('public clients have no secret and cannot use client_credentials', async (t) => {
  const { app } = await buildApp(t)
  const admin = await registerAdmin(app)
  const created = await asAdmin(app, admin, { method: 'POST', url: '/clients', payload: { name: 'spa', type: 'public', grant_types: ['password', 'refresh_token'] } })
  t.equal(created.statusCode, 201)
  const spa = created.json<Client>()
  t.notOk('client_secret' in spa)
  t.same([spa.audience, spa.scopes], [null, []])
  const refused = await asAdmin(app, admin, { method: 'POST', url: '/clients', payload: { name: 'bad', type: 'public', grant_types: ['client_credentials'] } })
  t.equal(refused.statusCode, 400)
  t.match(refused.json(), { errors: [{ path: '/grant_types' }] })
  t.equal((await asAdmin(app, admin, { method: 'PATCH', url: `/clients/${spa.client_id}`, payload: { grant_types: ['client_credentials'] } })).statusCode, 400)
  t.equal((await asAdmin(app, admin, { method: 'POST', url: `/clients/${spa.client_id}/secret` })).statusCode, 400, 'no secret to rotate')
  t.equal((await app.db.selectFrom('oauth_clients').select('client_id').execute()).length, 1, 'the refused client was not stored')
})

t.test('clients change, disable, delete; bad input is 400 or 404', async (t) => {
  const { app } = await buildApp(t)
  const admin = await registerAdmin(app)
  const client = (await asAdmin(app, admin, { method: 'POST', url: '/clients', payload: { name: 'batch', type: 'confidential', grant_types: ['client_credentials'] } })).json<Client>()
  const changed = await asAdmin(app, admin, { method: 'PATCH', url: `/clients/${client.client_id}`, payload: { name: 'batch jobs', disabled: true, scopes: ['a', 'b'] } })
  t.match(changed.json(), { name: 'batch jobs', disabled: true, scopes: ['a', 'b'] })
  for (const payload of [{}, { name: '' }, { name: 'x'.repeat(101) }, { grant_types: [] }, { grant_types: ['implicit'] }, { scopes: ['has space'] }, { secret_hash: 'x' }, { name: 'a\u0000b' }]) {
    t.equal((await asAdmin(app, admin, { method: 'PATCH', url: `/clients/${client.client_id}`, payload })).statusCode, 400, JSON.stringify(payload).slice(0, 40))
  }
  t.equal((await asAdmin(app, admin, { method: 'GET', url: '/clients/not-a-uuid' })).statusCode, 400)
  t.equal((await asAdmin(app, admin, { method: 'GET', url: '/clients?limit=0' })).statusCode, 400)
  t.equal((await asAdmin(app, admin, { method: 'DELETE', url: `/clients/${client.client_id}` })).statusCode, 204)
  t.equal((await asAdmin(app, admin, { method: 'GET', url: `/clients/${client.client_id}` })).statusCode, 404)
  t.equal((await asAdmin(app, admin, { method: 'POST', url: `/clients/${client.client_id}/secret` })).statusCode, 404)
  const plain = await registerAccount(app)
  t.equal((await asAdmin(app, plain, { method: 'GET', url: '/clients' })).statusCode, 403)
})

t.test('the client list pages newest first', async (t) => {
  const { app } = await buildApp(t)
  const admin = await registerAdmin(app)
  const ids: string[] = []
  for (let i = 0; i < 5; i++) ids.unshift((await asAdmin(app, admin, { method: 'POST', url: '/clients', payload: { name: `c${i}`, type: 'public', grant_types: ['password'] } })).json<Client>().client_id)
  const seen: string[] = []
  let cursor: string | null = null
  do {
    const page: { items: Client[], next_cursor: string | null } = (await asAdmin(app, admin, { method: 'GET', url: `/clients?limit=2${cursor === null ? '' : `&cursor=${cursor}`}` })).json()
    seen.push(...page.items.map((item) => item.client_id))
    cursor = page.next_cursor
  } while (cursor !== null)
  t.same(seen, ids)
})
