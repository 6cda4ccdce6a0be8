import t from 'tap'
import { buildApp, registerAccount } from '../helper.js'
import { auditRows, from, secretsInAudit } from '../audit/audit-helpers.js'
import { asAdmin, registerAdmin } from './helpers.js'

t.test('every change an admin makes to an account is an audit event naming the admin, the account and the request', async (t) => {
  const { app } = await buildApp(t)
  const admin = await registerAdmin(app)
  const bob = await registerAccount(app)
  const change = async (requestId: string, method: 'PATCH' | 'PUT' | 'DELETE' | 'POST', url: string, payload?: object): Promise<number> =>
    (await asAdmin(app, admin, { method, url, headers: from('ops-script/1.0', requestId), ...(payload === undefined ? {} : { payload }) })).statusCode

  t.equal(await change('r-roles', 'PATCH', `/users/${bob.id}`, { roles: ['user', 'service'] }), 200)
  t.equal(await change('r-disable', 'PATCH', `/users/${bob.id}`, { is_active: false }), 200)
  t.equal(await change('r-enable', 'PATCH', `/users/${bob.id}`, { is_active: true, full_name: 'Bob' }), 200)
  t.equal(await change('r-profile', 'PATCH', `/users/${bob.id}`, { full_name: 'Robert' }), 200)
  t.equal(await change('r-password', 'PUT', `/users/${bob.id}/password`, { new_password: 'a fresh river stone' }), 204)
  await app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { login: bob.email, password: 'a fresh river stone' } })
  t.equal(await change('r-sessions', 'DELETE', `/users/${bob.id}/sessions`), 204)
  t.equal(await change('r-create', 'POST', '/users', { email: 'new@example.com', username: 'newbie' }), 201)
  t.equal(await change('r-delete', 'DELETE', `/users/${bob.id}`), 204)

  const events = (await auditRows(app.db)).filter((event) => event.request_id?.startsWith('r-') === true)
  t.same(events.map((event) => [event.action, event.request_id, event.details]), [
    ['roles_changed', 'r-roles', { from: ['user'], to: ['user', 'service'] }],
    ['account_disabled', 'r-disable', { sessions_ended: 1 }],
    ['account_enabled', 'r-enable', {}],
    ['password_changed', 'r-password', { reset: true, sessions_ended: 0 }],
    ['session_revoked', 'r-sessions', { all: true, sessions_ended: 1 }],
    ['register', 'r-create', { roles: ['user'], is_active: true }],
    ['account_deleted', 'r-delete', {}]
  ], 'a profile change alone is not an event')
  for (const event of events) {
    t.match(event, { outcome: 'success', actor_user_id: admin.id, ip: '127.0.0.1', user_agent: 'ops-script/1.0' })
    if (event.action !== 'register') t.equal(event.subject_user_id, bob.id)
  }
  t.same(await secretsInAudit(app.db, ['a fresh river stone', bob.password, admin.accessToken]), [])
})

t.test('a refused change writes no event', async (t) => {
  const { app } = await buildApp(t)
  const admin = await registerAdmin(app)
  t.equal((await asAdmin(app, admin, { method: 'PATCH', url: `/users/${admin.id}`, payload: { roles: ['user'] } })).statusCode, 409)
  t.equal((await asAdmin(app, admin, { method: 'DELETE', url: `/users/${admin.id}` })).statusCode, 409)
  t.equal((await asAdmin(app, admin, { method: 'PUT', url: `/users/${admin.id}/password`, payload: { new_password: 'password' } })).statusCode, 400)
  t.same((await auditRows(app.db)).filter((event) => event.action !== 'register'), [])
})

t.test('client registrations and changes are audit events that never hold the secret', async (t) => {
  const { app } = await buildApp(t)
  const admin = await registerAdmin(app)
  const created = await asAdmin(app, admin, { method: 'POST', url: '/clients', payload: { name: 'orders', type: 'confidential', grant_types: ['client_credentials'] } })
  const client = created.json<{ client_id: string, client_secret: string }>()
  const rotated = await asAdmin(app, admin, { method: 'POST', url: `/clients/${client.client_id}/secret` })
  await asAdmin(app, admin, { method: 'PATCH', url: `/clients/${client.client_id}`, payload: { disabled: true } })
  await asAdmin(app, admin, { method: 'DELETE', url: `/clients/${client.client_id}` })
  const events = (await auditRows(app.db)).filter((event) => event.client_id !== null)
  t.same(events.map((event) => [event.action, event.client_id, event.actor_user_id, event.details]), [
    ['client_created', client.client_id, admin.id, {}],
    ['client_changed', client.client_id, admin.id, { changed: ['secret'] }],
    ['client_changed', client.client_id, admin.id, { changed: ['disabled'] }],
    ['client_changed', client.client_id, admin.id, { deleted: true }]
  ])
  t.same(await secretsInAudit(app.db, [client.client_secret, rotated.json<{ client_secret: string }>().client_secret]), [])
})

t.test('admins read the audit events a page at a time, filtered by account, action and time', async (t) => {
  const { app } = await buildApp(t)
  const admin = await registerAdmin(app)
  const bob = await registerAccount(app)
  for (let i = 0; i < 3; i++) await app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { login: bob.email, password: `wrong ${i}` } })
  await asAdmin(app, admin, { method: 'PATCH', url: `/users/${bob.id}`, payload: { is_active: false } })
  type Page = { items: Array<{ id: string, action: string, outcome: string, subject_user_id: string | null, actor_user_id: string | null, at: string }>, next_cursor: string | null }
  const read = async (query: string): Promise<Page> => {
    const response = await asAdmin(app, admin, { method: 'GET', url: `/audit-events?${query}` })
    t.equal(response.statusCode, 200, query)
    return response.json<Page>()
  }
  const all = await read(`user_id=${bob.id}`)
  t.same(all.items.map((event) => `${event.action}/${event.outcome}`), ['account_disabled/success', 'login/failure', 'login/failure', 'login/failure', 'register/success'], 'newest first, by or to the account')
  t.equal(all.next_cursor, null)

  const seen: string[] = []
  let cursor: string | null = null
  do {
    const page: Page = await read(`user_id=${bob.id}&limit=2${cursor === null ? '' : `&cursor=${cursor}`}`)
    seen.push(...page.items.map((event) => event.id))
    cursor = page.next_cursor
  } while (cursor !== null)
  t.same(seen, all.items.map((event) => event.id), 'pages without duplicates or gaps')

  t.same((await read('action=account_disabled')).items.map((event) => event.actor_user_id), [admin.id])
  const since = all.items[0]?.at ?? ''
  t.same((await read(`since=${encodeURIComponent(since)}&user_id=${bob.id}`)).items.map((event) => event.action), ['account_disabled'])
  for (const query of ['user_id=42', 'action=nonsense', 'since=yesterday', 'limit=0', 'cursor=%21%21', 'extra=1']) {
    t.equal((await asAdmin(app, admin, { method: 'GET', url: `/audit-events?${query}` })).statusCode, 400, query)
  }
  t.equal((await asAdmin(app, bob, { method: 'GET', url: '/audit-events' })).statusCode, 401, 'a disabled account is not even signed in')
})
