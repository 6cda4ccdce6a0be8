import t from 'tap'
import { buildApp, registerAccount, bearer } from '../helper.js'

t.test('register then read /users/me', async (t) => {
  const { app } = await buildApp(t)
  const account = await registerAccount(app)
  const me = await app.inject({ method: 'GET', url: '/api/v1/users/me', headers: bearer(account.accessToken) })
  t.equal(me.statusCode, 200)
  t.equal(me.json().id, account.id)
})
