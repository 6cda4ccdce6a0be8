import argon2 from 'argon2'
import t from 'tap'
import { bearer, buildApp, isProblem, registerAccount } from '../helper.js'

const ME = '/api/v1/users/me'

t.test('profile of the signed-in user', async (t) => {
  const { app } = await buildApp(t)

  t.test('GET returns the user without any password hash', async (t) => {
    const account = await registerAccount(app, { full_name: 'Alice Liddell' })
    const response = await app.inject({ method: 'GET', url: ME, headers: bearer(account.accessToken) })
    t.equal(response.statusCode, 200)
    const body = response.json()
    t.same(Object.keys(body).sort(), ['created_at', 'email', 'full_name', 'id', 'is_active', 'roles', 'updated_at', 'username'])
    t.equal(body.full_name, 'Alice Liddell')
    t.same(body.roles, ['user'])
    t.notMatch(response.body, /argon2|hashed_password/)
  })

  t.test('GET answers the same JSON each time until the user changes, then the change', async (t) => {
    const account = await registerAccount(app, { full_name: 'Before' })
    const get = async () => app.inject({ method: 'GET', url: ME, headers: bearer(account.accessToken) })
    const first = await get()
    const second = await get()
    t.equal(second.headers['content-type'], 'application/json; charset=utf-8')
    t.equal(second.body, first.body)
    t.same(second.json(), { ...first.json(), full_name: 'Before' })
    t.equal((await app.inject({ method: 'PATCH', url: ME, headers: bearer(account.accessToken), payload: { full_name: 'After' } })).statusCode, 200)
    const afterPatch = (await get()).json()
    t.equal(afterPatch.full_name, 'After', 'a change through the API shows at once')
    t.ok(afterPatch.updated_at > first.json().updated_at)
    await app.db.updateTable('users').set({ full_name: 'Elsewhere' }).where('id', '=', account.id).execute()
    await app.sessionView.catchUp()
    t.equal((await get()).json().full_name, 'Elsewhere', 'and one made behind the API, once notified')
  })

  t.test('GET /users/{id}: own account yes, someone else no (404), any for an admin', async (t) => {
    const alice = await registerAccount(app)
    const bob = await registerAccount(app)
    const own = await app.inject({ method: 'GET', url: `/api/v1/users/${alice.id}`, headers: bearer(alice.accessToken) })
    t.equal(own.statusCode, 200)
    const other = await app.inject({ method: 'GET', url: `/api/v1/users/${bob.id}`, headers: bearer(alice.accessToken) })
    t.equal(other.statusCode, 404)
    t.equal(other.json().code, 'not_found')
    await app.db.updateTable('users').set({ roles: ['user', 'admin'] }).where('id', '=', alice.id).execute()
    // Changed behind the API's back, as another instance would: wait for the notification.
    await app.sessionView.catchUp()
    const asAdmin = await app.inject({ method: 'GET', url: `/api/v1/users/${bob.id}`, headers: bearer(alice.accessToken) })
    t.equal(asAdmin.statusCode, 200)
    t.equal(asAdmin.json().email, bob.email)
  })

  for (const method of ['PATCH', 'PUT'] as const) {
    t.test(`${method} merges only the given fields`, async (t) => {
      const account = await registerAccount(app, { full_name: 'Before' })
      const response = await app.inject({ method, url: ME, headers: bearer(account.accessToken), payload: { full_name: 'After' } })
      t.equal(response.statusCode, 200)
      t.equal(response.json().full_name, 'After')
      t.equal(response.json().email, account.email, 'email untouched')
      t.equal(response.json().username, account.username, 'username untouched')
      t.ok(response.json().updated_at > response.json().created_at, 'updated_at moved')

      const renamed = await app.inject({
        method,
        url: ME,
        headers: bearer(account.accessToken),
        payload: { email: `  NEW.${account.email.toUpperCase()} `, username: `N${account.username}`, full_name: null }
      })
      t.equal(renamed.statusCode, 200)
      t.equal(renamed.json().email, `new.${account.email}`)
      t.equal(renamed.json().full_name, null)
      const row = await app.db.selectFrom('users').selectAll().where('id', '=', account.id).executeTakeFirstOrThrow()
      t.equal(row.username, `N${account.username}`)
    })
  }

  t.test('PATCH to a taken email or username is a 409 and changes nothing', async (t) => {
    const alice = await registerAccount(app)
    const bob = await registerAccount(app)
    const email = await app.inject({ method: 'PATCH', url: ME, headers: bearer(bob.accessToken), payload: { email: alice.email.toUpperCase() } })
    t.equal(email.statusCode, 409)
    t.ok(isProblem(email))
    t.equal(email.json().code, 'email_taken')
    const username = await app.inject({ method: 'PATCH', url: ME, headers: bearer(bob.accessToken), payload: { username: alice.username.toUpperCase() } })
    t.equal(username.statusCode, 409)
    t.equal(username.json().code, 'username_taken')
    const row = await app.db.selectFrom('users').selectAll().where('id', '=', bob.id).executeTakeFirstOrThrow()
    t.equal(row.email, bob.email)
    t.equal(row.username, bob.username)
  })
})

t.test('password change', async (t) => {
  const { app } = await buildApp(t)
  const account = await registerAccount(app)
  const url = `${ME}/password`

  const wrong = await app.inject({ method: 'PUT', url, headers: bearer(account.accessToken), payload: { current_password: 'not the password', new_password: 'a brand new password' } })
  t.equal(wrong.statusCode, 403)
  t.equal(wrong.json().code, 'invalid_password')

  const tooShort = await app.inject({ method: 'PUT', url, headers: bearer(account.accessToken), payload: { current_password: account.password, new_password: 'short' } })
  t.equal(tooShort.statusCode, 400)

  const before = await app.db.selectFrom('users').selectAll().where('id', '=', account.id).executeTakeFirstOrThrow()
  const ok = await app.inject({ method: 'PUT', url, headers: bearer(account.accessToken), payload: { current_password: account.password, new_password: 'a brand new password' } })
  t.equal(ok.statusCode, 204)
  t.equal(ok.body, '')
  const after = await app.db.selectFrom('users').selectAll().where('id', '=', account.id).executeTakeFirstOrThrow()
  t.not(after.hashed_password, before.hashed_password)
  t.ok(await argon2.verify(after.hashed_password ?? '', 'a brand new password'))
  t.ok((after.password_changed_at?.getTime() ?? 0) > (before.password_changed_at?.getTime() ?? 0), 'password_changed_at moved')

  const oldLogin = await app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { login: account.email, password: account.password } })
  t.equal(oldLogin.statusCode, 401)
  const newLogin = await app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { login: account.email, password: 'a brand new password' } })
  t.equal(newLogin.statusCode, 200)
})

t.test('account deletion needs the password and removes the account', async (t) => {
  const { app } = await buildApp(t)
  const account = await registerAccount(app)

  const wrong = await app.inject({ method: 'DELETE', url: ME, headers: bearer(account.accessToken), payload: { password: 'not the password' } })
  t.equal(wrong.statusCode, 403)
  t.equal(wrong.json().code, 'invalid_password')
  t.ok(await app.db.selectFrom('users').select('id').where('id', '=', account.id).executeTakeFirst(), 'still there')

  const missing = await app.inject({ method: 'DELETE', url: ME, headers: bearer(account.accessToken) })
  t.equal(missing.statusCode, 400)

  const ok = await app.inject({ method: 'DELETE', url: ME, headers: bearer(account.accessToken), payload: { password: account.password } })
  t.equal(ok.statusCode, 204)
  t.equal(await app.db.selectFrom('users').select('id').where('id', '=', account.id).executeTakeFirst(), undefined)

  const afterwards = await app.inject({ method: 'GET', url: ME, headers: bearer(account.accessToken) })
  t.equal(afterwards.statusCode, 401, 'its token is refused')
  const login = await app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { login: account.email, password: account.password } })
  t.equal(login.statusCode, 401)
  const again = await app.inject({ method: 'POST', url: '/api/v1/auth/register', payload: { email: account.email, username: account.username, password: account.password } })
  t.equal(again.statusCode, 201, 'email and username are free again')
})

t.test('20 parallel registrations of one email: one 201, nineteen 409, no 5xx', async (t) => {
  const { app } = await buildApp(t)
  const responses = await Promise.all(Array.from({ length: 20 }, (_, i) => app.inject({
    method: 'POST',
    url: '/api/v1/auth/register',
    payload: { email: i % 2 === 0 ? 'race@example.com' : ' RACE@Example.com ', username: `racer${i}`, password: 'correct horse battery' }
  })))
  const statuses = responses.map((response) => response.statusCode).sort()
  t.same(statuses, [201, ...Array(19).fill(409)])
  t.ok(responses.filter((response) => response.statusCode === 409).every((response) => response.json().code === 'email_taken'))
  const rows = await app.db.selectFrom('users').select('id').where('email', '=', 'race@example.com').execute()
  t.equal(rows.length, 1)
})

t.test('20 parallel registrations of one username in different cases', async (t) => {
  const { app } = await buildApp(t)
  const responses = await Promise.all(Array.from({ length: 20 }, (_, i) => app.inject({
    method: 'POST',
    url: '/api/v1/auth/register',
    payload: { email: `racer${i}@example.com`, username: i % 2 === 0 ? 'Racer' : 'rAcEr', password: 'correct horse battery' }
  })))
  t.same(responses.map((response) => response.statusCode).sort(), [201, ...Array(19).fill(409)])
  t.ok(responses.filter((response) => response.statusCode === 409).every((response) => response.json().code === 'username_taken'))
})

t.test('no cache keeps an answer about a signed-in user: Cache-Control: no-store on each', async (t) => {
  const { app } = await buildApp(t)
  const account = await registerAccount(app)
  const other = await registerAccount(app)
  const auth = bearer(account.accessToken)
  const requests = [
    { method: 'GET', url: ME, headers: auth },
    { method: 'GET', url: `/api/v1/users/${account.id}`, headers: auth },
    { method: 'GET', url: `/api/v1/users/${other.id}`, headers: auth },
    { method: 'PATCH', url: ME, headers: auth, payload: { full_name: 'Cached Nowhere' } },
    { method: 'PUT', url: ME, headers: auth, payload: { nickname: 'refused' } },
    { method: 'GET', url: '/api/v1/auth/sessions', headers: auth },
    { method: 'DELETE', url: '/api/v1/auth/sessions/01939d5e-0000-7000-8000-000000000000', headers: auth },
    { method: 'GET', url: ME, headers: {} },
    { method: 'GET', url: ME, headers: bearer('not-a-token') }
  ] as const
  for (const request of requests) {
    const response = await app.inject(request)
    t.equal(response.headers['cache-control'], 'no-store', `${request.method} ${request.url} (${response.statusCode})`)
  }
})
