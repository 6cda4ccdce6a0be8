import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import { sql } from 'kysely'
import t from 'tap'
import { asAdmin, registerAdmin } from '../admin/helpers.js'
import { bearer, buildApp, registerAccount, type Account } from '../helper.js'

/**
 * The revocation feed, page by page (DESIGN "Revocation feed"): every way a session or an
 * account ends is an entry, written with the change itself, and only admins and clients with
 * revocations:read may read it.
 */
interface Entry { sid: string | null, sub: string, revoked_at: string }
interface Page { items: Entry[], next_cursor: string }

async function read (app: FastifyInstance, headers: Record<string, string>, query = ''): Promise<LightMyRequestResponse> {
  return app.inject({ url: `/api/v1/auth/revocations${query}`, headers })
}

async function login (app: FastifyInstance, account: Account): Promise<{ access_token: string, refresh_token: string }> {
  const response = await app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { login: account.username, password: account.password } })
  return response.json()
}

function sidOf (token: string): string {
  return (JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString()) as { sid: string }).sid
}

t.test('every way a session or an account ends is an entry, in order, and the cursor resumes after the last', async (t) => {
  const { app } = await buildApp(t)
  const admin = await registerAdmin(app)
  const reader = bearer(admin.accessToken)
  const start = (await read(app, reader)).json<Page>()
  t.same(start.items, [], 'nothing yet')
  t.equal(start.next_cursor, '0', 'next_cursor is never null')

  const alice = await registerAccount(app)
  const phone = await login(app, alice)
  t.equal((await app.inject({ method: 'POST', url: '/api/v1/auth/logout', headers: bearer(phone.access_token) })).statusCode, 204)
  const afterLogout = (await read(app, reader, `?since=${start.next_cursor}`)).json<Page>()
  t.match(afterLogout.items, [{ sid: sidOf(phone.access_token), sub: alice.id }], 'a logout')
  t.match(afterLogout.items[0]?.revoked_at, /^\d{4}-\d\d-\d\dT/)

  const laptop = await login(app, alice)
  const change = await app.inject({
    method: 'PUT', url: '/api/v1/users/me/password', headers: bearer(laptop.access_token),
    payload: { current_password: alice.password, new_password: 'another long passphrase' }
  })
  t.equal(change.statusCode, 204)
  const afterChange = (await read(app, reader, `?since=${afterLogout.next_cursor}`)).json<Page>()
  t.same(afterChange.items.map((entry) => entry.sid).sort(), [sidOf(alice.accessToken)], 'a password change ends the other sessions')

  const bob = await registerAccount(app)
  t.equal((await asAdmin(app, admin, { method: 'PATCH', url: `/users/${bob.id}`, payload: { is_active: false } })).statusCode, 200)
  const carol = await registerAccount(app)
  t.equal((await app.inject({ method: 'DELETE', url: '/api/v1/users/me', headers: bearer(carol.accessToken), payload: { password: carol.password } })).statusCode, 204)
  const dave = await registerAccount(app)
  const first = await login(app, dave)
  const rotated = await app.inject({ method: 'POST', url: '/api/v1/auth/refresh', payload: { refresh_token: first.refresh_token } })
  t.equal(rotated.statusCode, 200)
  await app.db.updateTable('refresh_tokens').set({ rotated_at: new Date(Date.now() - 3600_000) }).where('rotated_at', 'is not', null).execute()
  t.equal((await app.inject({ method: 'POST', url: '/api/v1/auth/refresh', payload: { refresh_token: first.refresh_token } })).statusCode, 400)

  const rest = (await read(app, reader, `?since=${afterChange.next_cursor}`)).json<Page>()
  t.match(rest.items, [
    { sid: null, sub: bob.id },
    { sid: sidOf(bob.accessToken), sub: bob.id },
    { sid: null, sub: carol.id },
    { sid: sidOf(first.access_token), sub: dave.id }
  ], 'disable (the account, then its session), deletion (the account), refresh-token reuse (the session)')

  const paged = (await read(app, reader, `?since=${afterChange.next_cursor}&limit=2`)).json<Page>()
  t.equal(paged.items.length, 2)
  const next = (await read(app, reader, `?since=${paged.next_cursor}&limit=2`)).json<Page>()
  t.same([...paged.items, ...next.items], rest.items, 'pages join without gaps or duplicates')
  const end = (await read(app, reader, `?since=${rest.next_cursor}`)).json<Page>()
  t.same(end, { items: [], next_cursor: rest.next_cursor }, 'at the end: no items, the same position')

  for (const since of ['abc', '-1', '1'.repeat(19), '1 or 1=1']) {
    const forged = await read(app, reader, `?since=${encodeURIComponent(since)}`)
    t.equal(forged.statusCode, 400, `since=${since}`)
  }
  t.equal((await read(app, reader, '?limit=0')).statusCode, 400)
})

t.test('readers: admins, and confidential clients with revocations:read by credentials or by their own token', async (t) => {
  const { app } = await buildApp(t)
  const admin = await registerAdmin(app)
  const user = await registerAccount(app)
  const create = async (scopes: string[]): Promise<{ client_id: string, client_secret: string }> =>
    (await asAdmin(app, admin, { method: 'POST', url: '/clients', payload: { name: 'orders', type: 'confidential', grant_types: ['client_credentials'], scopes } })).json()
  const feedClient = await create(['revocations:read'])
  const otherClient = await create([])
  const basic = (client: { client_id: string, client_secret: string }): Record<string, string> =>
    ({ authorization: `Basic ${Buffer.from(`${client.client_id}:${client.client_secret}`).toString('base64')}` })
  const clientToken = async (client: { client_id: string, client_secret: string }): Promise<string> =>
    (await app.inject({ method: 'POST', url: '/api/v1/auth/token', headers: { ...basic(client), 'content-type': 'application/x-www-form-urlencoded' }, payload: 'grant_type=client_credentials' })).json<{ access_token: string }>().access_token

  t.equal((await read(app, bearer(admin.accessToken))).statusCode, 200, 'an admin')
  t.equal((await read(app, basic(feedClient))).statusCode, 200, 'a client with the scope, by its credentials')
  t.equal((await read(app, bearer(await clientToken(feedClient)))).statusCode, 200, 'by its client_credentials token')

  const none = await read(app, {})
  t.equal(none.statusCode, 401)
  t.match(none.json(), { error: 'invalid_token', error_description: /admin's bearer token, or a confidential client with the scope revocations:read/ })
  t.equal((await read(app, bearer(user.accessToken))).statusCode, 403, 'a user without the role admin')
  t.match((await read(app, basic(otherClient))).json(), { error: 'insufficient_scope' }, 'a client without the scope')
  t.equal((await read(app, bearer(await clientToken(otherClient)))).statusCode, 403, 'its token')
  t.equal((await read(app, basic({ ...feedClient, client_secret: 'wrong' }))).statusCode, 401, 'a wrong secret')
  t.equal((await read(app, bearer('not-a-token'))).statusCode, 401)

  const token = await clientToken(feedClient)
  await app.db.updateTable('oauth_clients').set({ disabled: true }).where('client_id', '=', feedClient.client_id).execute()
  t.equal((await read(app, bearer(token))).statusCode, 403, 'the token of a client disabled since')
})

t.test('entries live as long as an access token can, then the prune removes them', async (t) => {
  const { app } = await buildApp(t)
  const alice = await registerAccount(app)
  await app.inject({ method: 'POST', url: '/api/v1/auth/logout', headers: bearer(alice.accessToken) })
  t.equal(await app.revocationFeed.prune(), 0, 'a fresh entry stays')
  await sql`update revocations set revoked_at = now() - interval '17 minutes'`.execute(app.db)
  t.equal(await app.revocationFeed.prune(), 1, 'older than JWT_EXPIRE_MINUTES (15) + 1 min: gone')
})
