import t from 'tap'
import { bearer, buildApp, isProblem, registerAccount } from '../helper.js'
import { asAdmin, registerAdmin } from './helpers.js'

interface Page { items: Array<{ id: string, email: string, username: string, roles: string[], is_active: boolean }>, next_cursor: string | null }

t.test('every admin route needs the role admin: 401 without a token, 403 forbidden with a plain account', async (t) => {
  const { app } = await buildApp(t)
  const user = await registerAccount(app)
  const id = user.id
  const routes = [['GET', '/users'], ['POST', '/users'], ['GET', `/users/${id}`], ['PATCH', `/users/${id}`], ['DELETE', `/users/${id}`],
    ['PUT', `/users/${id}/password`], ['GET', `/users/${id}/sessions`], ['DELETE', `/users/${id}/sessions`]] as const
  for (const [method, url] of routes) {
    const anonymous = await app.inject({ method, url: `/api/v1/admin${url}` })
    t.equal(anonymous.statusCode, 401, `${method} ${url} without a token`)
    const plain = await asAdmin(app, user, { method, url, payload: method === 'GET' || method === 'DELETE' ? undefined : {} })
    t.equal(plain.statusCode, 403, `${method} ${url} as a plain user`)
    t.match(plain.json(), { code: 'forbidden', detail: 'this endpoint needs the role admin' })
    t.ok(isProblem(plain))
  }
  t.equal((await app.db.selectFrom('users').select('id').where('id', '=', id).execute()).length, 1, 'nothing changed')
})

t.test('the user list pages newest first without duplicates or gaps, also while accounts are created', async (t) => {
  const { app } = await buildApp(t)
  const admin = await registerAdmin(app)
  for (let i = 0; i < 4; i++) await registerAccount(app)
  const all = (await asAdmin(app, admin, { method: 'GET', url: '/users?limit=200' })).json<Page>()
  t.equal(all.items.length, 5)
  t.equal(all.next_cursor, null, 'one page holds them all')
  t.equal(all.items.at(-1)?.id, admin.id, 'newest first: the admin registered first comes last')

  const seen: string[] = []
  let cursor: string | null = null
  do {
    const response = await asAdmin(app, admin, { method: 'GET', url: `/users?limit=2${cursor === null ? '' : `&cursor=${cursor}`}` })
    t.equal(response.statusCode, 200)
    const page = response.json<Page>()
    seen.push(...page.items.map((item) => item.id))
    cursor = page.next_cursor
    // An account created between pages is newer than every page: it never shows up later.
    await registerAccount(app)
  } while (cursor !== null)
  t.same(seen, all.items.map((item) => item.id), 'every account once, in order')
  t.equal(seen.length, 5)
})

t.test('the user list filters by the start of email or username, role and state', async (t) => {
  const { app } = await buildApp(t)
  const admin = await registerAdmin(app)
  const carol = await registerAccount(app, { email: 'carol.smith@example.com', username: 'Carol_S' })
  await registerAccount(app, { email: 'dan%x@example.com', username: 'danx' })
  await app.db.updateTable('users').set({ is_active: false }).where('id', '=', carol.id).execute()
  const list = async (query: string): Promise<string[]> =>
    (await asAdmin(app, admin, { method: 'GET', url: `/users?${query}` })).json<Page>().items.map((item) => item.username)
  t.same(await list('q=CAROL'), ['Carol_S'], 'by the start of the email or the username, any case')
  t.same(await list('q=carol_'), ['Carol_S'], '_ is a character, not a wildcard')
  t.same(await list('q=dan%25'), ['danx'], '% too')
  t.same(await list('q=%25'), [], '% alone matches nothing')
  t.same(await list('role=admin'), [admin.username])
  t.same(await list('active=false'), ['Carol_S'])
  t.same(await list('q=carol&active=true'), [])
})

t.test('bad list queries are 400 and never 500', async (t) => {
  const { app } = await buildApp(t)
  const admin = await registerAdmin(app)
  const forged = Buffer.from('not a position').toString('base64url')
  for (const query of ['limit=0', 'limit=201', 'limit=abc', `q=${'x'.repeat(10_000)}`, 'role=root', 'active=yes', 'sort=email',
    `cursor=${forged}`, 'cursor=%2F%2F%2F', `cursor=${'A'.repeat(300)}`]) {
    const response = await asAdmin(app, admin, { method: 'GET', url: `/users?${query}` })
    t.equal(response.statusCode, 400, query.slice(0, 40))
    t.match(response.json(), { code: 'validation_failed' })
  }
  const stale = Buffer.from(`1700000000000000.${'0'.repeat(8)}-0000-7000-8000-${'0'.repeat(12)}`).toString('base64url')
  t.equal((await asAdmin(app, admin, { method: 'GET', url: `/users?cursor=${stale}` })).statusCode, 200, 'a cursor of ours whose account is gone still pages on')
})

t.test('an admin creates, reads, changes and deletes an account', async (t) => {
  const { app } = await buildApp(t)
  const admin = await registerAdmin(app)
  const created = await asAdmin(app, admin, { method: 'POST', url: '/users', payload: { email: ' Eve@Example.com ', username: 'eve', password: 'sturdy lamp 42 river', roles: ['service'] } })
  t.equal(created.statusCode, 201)
  const eve = created.json<{ id: string }>()
  t.equal(created.headers.location, `/api/v1/admin/users/${eve.id}`)
  t.match(eve, { email: 'eve@example.com', username: 'eve', roles: ['service'], is_active: true })
  t.notOk('hashed_password' in eve)
  const login = await app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { login: 'eve', password: 'sturdy lamp 42 river' } })
  t.equal(login.statusCode, 200, 'the account signs in with the password the admin gave')

  t.match((await asAdmin(app, admin, { method: 'GET', url: `/users/${eve.id}` })).json(), { id: eve.id })
  const changed = await asAdmin(app, admin, { method: 'PATCH', url: `/users/${eve.id}`, payload: { full_name: 'Eve Ops', roles: ['user', 'service'] } })
  t.match(changed.json(), { full_name: 'Eve Ops', roles: ['user', 'service'] })
  t.equal((await asAdmin(app, admin, { method: 'PATCH', url: `/users/${eve.id}`, payload: { email: admin.email } })).statusCode, 409, 'a taken email')

  t.equal((await asAdmin(app, admin, { method: 'DELETE', url: `/users/${eve.id}` })).statusCode, 204)
  t.equal((await asAdmin(app, admin, { method: 'GET', url: `/users/${eve.id}` })).statusCode, 404)
  t.equal((await asAdmin(app, admin, { method: 'DELETE', url: `/users/${eve.id}` })).statusCode, 404)
})

t.test('bad account input: 400, 404 or 409, and nothing changes', async (t) => {
  const { app } = await buildApp(t)
  const admin = await registerAdmin(app)
  const unknown = '0193a8f0-6b7c-7a3e-9a51-0f1d2e3c4b5a'
  t.equal((await asAdmin(app, admin, { method: 'GET', url: '/users/42' })).statusCode, 400)
  t.equal((await asAdmin(app, admin, { method: 'GET', url: `/users/${unknown}` })).statusCode, 404)
  t.equal((await asAdmin(app, admin, { method: 'PATCH', url: `/users/${unknown}`, payload: { full_name: 'x' } })).statusCode, 404)
  t.equal((await asAdmin(app, admin, { method: 'PATCH', url: `/users/${admin.id}`, payload: {} })).statusCode, 400, 'an empty change')
  t.equal((await asAdmin(app, admin, { method: 'PATCH', url: `/users/${admin.id}`, payload: { roles: ['root'] } })).statusCode, 400, 'an unknown role')
  t.equal((await asAdmin(app, admin, { method: 'PATCH', url: `/users/${admin.id}`, payload: { hashed_password: 'x' } })).statusCode, 400)
  const weak = await asAdmin(app, admin, { method: 'POST', url: '/users', payload: { email: 'weak@example.com', username: 'weak', password: 'password' } })
  t.equal(weak.statusCode, 400)
  t.match(weak.json(), { code: 'validation_failed', errors: [{ path: '/password' }] })
  t.equal(await app.db.selectFrom('users').select('id').where('username', '=', 'weak').executeTakeFirst(), undefined)
})

t.test('without a password an account cannot sign in with one', async (t) => {
  const { app } = await buildApp(t)
  const admin = await registerAdmin(app)
  t.equal((await asAdmin(app, admin, { method: 'POST', url: '/users', payload: { email: 'svc@example.com', username: 'svc' } })).statusCode, 201)
  const login = await app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { login: 'svc', password: 'anything at all' } })
  t.equal(login.statusCode, 401)
  t.match(login.json(), { code: 'invalid_credentials' })
})

t.test('an account made admin can use the admin API at once, with the token it already holds', async (t) => {
  const { app } = await buildApp(t)
  const admin = await registerAdmin(app)
  const bob = await registerAccount(app)
  await asAdmin(app, admin, { method: 'PATCH', url: `/users/${bob.id}`, payload: { roles: ['user', 'admin'] } })
  const response = await app.inject({ method: 'GET', url: '/api/v1/admin/users', headers: bearer(bob.accessToken) })
  t.equal(response.statusCode, 200, 'roles are read from the database on every request, not from the token')
})
