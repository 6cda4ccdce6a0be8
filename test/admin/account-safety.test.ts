import type { FastifyInstance } from 'fastify'
import { sql } from 'kysely'
import t from 'tap'
import { bearer, buildApp, registerAccount, testDatabaseKind, type Account } from '../helper.js'
import { asAdmin, registerAdmin } from './helpers.js'

async function signIn (app: FastifyInstance, account: Account, password = account.password): Promise<{ status: number, refreshToken: string, accessToken: string }> {
  const response = await app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { login: account.email, password } })
  const body = response.statusCode === 200 ? response.json<{ refresh_token: string, access_token: string }>() : { refresh_token: '', access_token: '' }
  return { status: response.statusCode, refreshToken: body.refresh_token, accessToken: body.access_token }
}

async function refresh (app: FastifyInstance, refreshToken: string): Promise<number> {
  return (await app.inject({ method: 'POST', url: '/api/v1/auth/refresh', payload: { refresh_token: refreshToken } })).statusCode
}

async function liveSessions (app: FastifyInstance, userId: string): Promise<number> {
  const rows = await app.db.selectFrom('sessions').select('id').where('user_id', '=', userId).where('revoked_at', 'is', null).execute()
  return rows.length
}

t.test('disabling an account ends its sessions at once: its tokens stop working, its password too', async (t) => {
  const { app } = await buildApp(t)
  const admin = await registerAdmin(app)
  const bob = await registerAccount(app)
  const session = await signIn(app, bob)
  const disabled = await asAdmin(app, admin, { method: 'PATCH', url: `/users/${bob.id}`, payload: { is_active: false } })
  t.equal(disabled.statusCode, 200)
  t.match(disabled.json(), { is_active: false })
  t.equal(await liveSessions(app, bob.id), 0, 'no live session is left')
  t.equal(await refresh(app, session.refreshToken), 400, 'a refresh right after the disable fails')
  t.equal((await app.inject({ method: 'GET', url: '/api/v1/users/me', headers: bearer(session.accessToken) })).statusCode, 401)
  t.equal((await signIn(app, bob)).status, 403, 'the right password gets account_disabled')

  t.match((await asAdmin(app, admin, { method: 'PATCH', url: `/users/${bob.id}`, payload: { is_active: true } })).json(), { is_active: true })
  t.equal((await signIn(app, bob)).status, 200, 'enabled again, it signs in')
})

t.test('a refresh racing a disable never outlives it', async (t) => {
  const { app } = await buildApp(t)
  const admin = await registerAdmin(app)
  const bob = await registerAccount(app)
  const session = await signIn(app, bob)
  const [raced] = await Promise.all([
    app.inject({ method: 'POST', url: '/api/v1/auth/refresh', payload: { refresh_token: session.refreshToken } }),
    asAdmin(app, admin, { method: 'PATCH', url: `/users/${bob.id}`, payload: { is_active: false } })
  ])
  if (raced.statusCode === 200) {
    t.equal(await refresh(app, raced.json<{ refresh_token: string }>().refresh_token), 400, 'the successor of a refresh that won the race fails')
  } else {
    t.equal(raced.statusCode, 400, 'or the refresh lost the race')
  }
  t.equal(await liveSessions(app, bob.id), 0)
})

t.test('an admin sets a password: the old one stops, every session ends, the policy applies', async (t) => {
  const { app } = await buildApp(t)
  const admin = await registerAdmin(app)
  const bob = await registerAccount(app)
  const session = await signIn(app, bob)
  const weak = await asAdmin(app, admin, { method: 'PUT', url: `/users/${bob.id}/password`, payload: { new_password: bob.username + 'xyz' } })
  t.equal(weak.statusCode, 400)
  t.match(weak.json(), { errors: [{ path: '/new_password' }] })
  t.equal(await liveSessions(app, bob.id), 2, 'a refused password changes nothing')

  t.equal((await asAdmin(app, admin, { method: 'PUT', url: `/users/${bob.id}/password`, payload: { new_password: 'a brand new lamp 7' } })).statusCode, 204)
  t.equal(await liveSessions(app, bob.id), 0)
  t.equal(await refresh(app, session.refreshToken), 400)
  t.equal((await signIn(app, bob)).status, 401, 'the old password no longer works')
  t.equal((await signIn(app, bob, 'a brand new lamp 7')).status, 200)
  const unknown = '0193a8f0-6b7c-7a3e-9a51-0f1d2e3c4b5a'
  t.equal((await asAdmin(app, admin, { method: 'PUT', url: `/users/${unknown}/password`, payload: { new_password: 'a brand new lamp 7' } })).statusCode, 404)
})

t.test('an admin lists and ends an account\'s sessions', async (t) => {
  const { app } = await buildApp(t)
  const admin = await registerAdmin(app)
  const bob = await registerAccount(app)
  const session = await signIn(app, bob)
  const listed = await asAdmin(app, admin, { method: 'GET', url: `/users/${bob.id}/sessions` })
  t.equal(listed.statusCode, 200)
  t.equal(listed.json<unknown[]>().length, 2, 'registration and sign-in')
  t.match(listed.json(), [{ current: false, ip: '127.0.0.1' }, { current: false }])
  t.equal((await asAdmin(app, admin, { method: 'DELETE', url: `/users/${bob.id}/sessions` })).statusCode, 204)
  t.same((await asAdmin(app, admin, { method: 'GET', url: `/users/${bob.id}/sessions` })).json(), [])
  t.equal(await refresh(app, session.refreshToken), 400)
  t.equal((await app.inject({ method: 'GET', url: '/api/v1/users/me', headers: bearer(session.accessToken) })).statusCode, 401)
  t.equal((await asAdmin(app, admin, { method: 'GET', url: '/users/0193a8f0-6b7c-7a3e-9a51-0f1d2e3c4b5a/sessions' })).statusCode, 404)
  t.equal(await liveSessions(app, admin.id), 1, 'the admin\'s own session goes on')
})

t.test('the last active admin cannot be disabled, demoted or deleted', async (t) => {
  const { app } = await buildApp(t)
  const admin = await registerAdmin(app)
  for (const payload of [{ is_active: false }, { roles: ['user'] }]) {
    const refused = await asAdmin(app, admin, { method: 'PATCH', url: `/users/${admin.id}`, payload })
    t.equal(refused.statusCode, 409)
    t.match(refused.json(), { code: 'last_admin', title: 'Last admin' })
  }
  t.equal((await asAdmin(app, admin, { method: 'DELETE', url: `/users/${admin.id}` })).statusCode, 409)
  const row = await app.db.selectFrom('users').select(['roles', 'is_active']).where('id', '=', admin.id).executeTakeFirstOrThrow()
  t.same(row, { roles: ['user', 'admin'], is_active: true }, 'nothing changed')

  const second = await registerAdmin(app)
  t.equal((await asAdmin(app, admin, { method: 'PATCH', url: `/users/${admin.id}`, payload: { roles: ['user'] } })).statusCode, 200, 'with another admin it can step down')
  t.equal((await asAdmin(app, second, { method: 'DELETE', url: `/users/${second.id}` })).statusCode, 409, 'and the other is now the last')
})

t.test(`two admins demoting each other at once leave one admin (${testDatabaseKind()})`, async (t) => {
  const { app } = await buildApp(t)
  for (let round = 0; round < 5; round++) {
    const [first, second] = [await registerAdmin(app), await registerAdmin(app)]
    // Every other admin of earlier rounds steps aside first, so these two are the only ones.
    await app.db.updateTable('users').set({ roles: ['user'] }).where('id', 'not in', [first.id, second.id]).execute()
    const answers = await Promise.all([
      asAdmin(app, first, { method: 'PATCH', url: `/users/${second.id}`, payload: { roles: ['user'] } }),
      asAdmin(app, second, { method: 'PATCH', url: `/users/${first.id}`, payload: { roles: ['user'] } })
    ])
    const admins = await app.db.selectFrom('users').select('id').where(sql<boolean>`'admin' = any(roles)`).where('is_active', '=', true).execute()
    t.equal(admins.length, 1, `round ${round}: one admin is left (${answers.map((answer) => answer.statusCode).join(', ')})`)
  }
})
