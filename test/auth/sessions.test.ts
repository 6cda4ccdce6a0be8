import { createHash } from 'node:crypto'
import type { FastifyInstance } from 'fastify'
import { sql } from 'kysely'
import t from 'tap'
import { bearer, buildApp, registerAccount } from '../helper.js'
import { decodeJwt } from './jwt-forge.js'

interface Tokens { access_token: string, refresh_token: string }

async function login (app: FastifyInstance, login: string, password: string, userAgent = 'test-agent/1.0'): Promise<Tokens> {
  const response = await app.inject({ method: 'POST', url: '/api/v1/auth/login', headers: { 'user-agent': userAgent }, payload: { login, password } })
  if (response.statusCode !== 200) throw new Error(`login failed: ${response.body}`)
  return response.json<Tokens>()
}

async function refresh (app: FastifyInstance, refreshToken: string) {
  return app.inject({ method: 'POST', url: '/api/v1/auth/refresh', payload: { refresh_token: refreshToken } })
}

async function me (app: FastifyInstance, accessToken: string): Promise<number> {
  return (await app.inject({ method: 'GET', url: '/api/v1/users/me', headers: bearer(accessToken) })).statusCode
}

function sha256 (value: string): string {
  return createHash('sha256').update(value).digest('base64url')
}

t.test('sign-in starts a session: refresh token, sid claim, only a hash stored', async (t) => {
  const { app } = await buildApp(t)
  const account = await registerAccount(app)
  const register = await app.inject({ method: 'POST', url: '/api/v1/auth/register', payload: { email: 'x@example.com', username: 'xuser', password: 'correct horse battery' } })
  t.match(register.json().refresh_token, /^[A-Za-z0-9_-]{43}$/, '256 random bits, base64url')

  const form = await app.inject({
    method: 'POST',
    url: '/api/v1/auth/token',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    payload: `grant_type=password&username=${account.username}&password=${encodeURIComponent(account.password)}`
  })
  const tokens = form.json<Tokens>()
  t.type(tokens.refresh_token, 'string')
  const sid = decodeJwt(tokens.access_token).payload.sid as string
  const session = await app.db.selectFrom('sessions').selectAll().where('id', '=', sid).executeTakeFirstOrThrow()
  t.equal(session.user_id, account.id)
  t.equal(session.expires_at.getTime() - session.created_at.getTime() > 29 * 86400_000, true, '30 days absolute lifetime')
  const stored = await app.db.selectFrom('refresh_tokens').selectAll().where('session_id', '=', sid).execute()
  t.equal(stored.length, 1)
  t.equal(stored[0]?.token_hash, sha256(tokens.refresh_token), 'stored as SHA-256')
  t.not(stored[0]?.token_hash, tokens.refresh_token)
})

t.test('registration stores the account with its first session; a refused one stores neither', async (t) => {
  const { app } = await buildApp(t)
  const body = { email: 'first@example.com', username: 'first', password: 'correct horse battery' }
  const register = await app.inject({ method: 'POST', url: '/api/v1/auth/register', headers: { 'user-agent': 'first-client/1.0' }, payload: body })
  t.equal(register.statusCode, 201)
  const tokens = register.json<Tokens & { user: { id: string } }>()
  const sid = decodeJwt(tokens.access_token).payload.sid as string
  const session = await app.db.selectFrom('sessions').selectAll().where('id', '=', sid).executeTakeFirstOrThrow()
  t.equal(session.user_id, tokens.user.id)
  t.equal(session.user_agent, 'first-client/1.0')
  t.equal(session.ip, '127.0.0.1')
  t.equal(session.revoked_at, null)
  const stored = await app.db.selectFrom('refresh_tokens').select(['token_hash', 'rotated_at']).where('session_id', '=', sid).execute()
  t.same(stored, [{ token_hash: sha256(tokens.refresh_token), rotated_at: null }])

  const taken = await app.inject({ method: 'POST', url: '/api/v1/auth/register', payload: { ...body, username: 'second' } })
  t.equal(taken.statusCode, 409)
  const sessions = await app.db.selectFrom('sessions').select('id').execute()
  t.same(sessions.map((row) => row.id), [sid], 'the refused registration left no session behind')
  t.equal((await app.db.selectFrom('refresh_tokens').select('token_hash').execute()).length, 1)
})

t.test('rotation: every refresh returns a successor and retires the old token', async (t) => {
  const { app } = await buildApp(t, { env: { REFRESH_REUSE_GRACE_SECONDS: '0' } })
  const account = await registerAccount(app)
  const first = await login(app, account.email, account.password)

  const json = await refresh(app, first.refresh_token)
  t.equal(json.statusCode, 200)
  t.equal(json.headers['cache-control'], 'no-store')
  const second = json.json<Tokens & { token_type: string, expires_in: number }>()
  t.equal(second.token_type, 'bearer')
  t.equal(second.expires_in, 900)
  t.not(second.refresh_token, first.refresh_token)
  t.equal(decodeJwt(second.access_token).payload.sid, decodeJwt(first.access_token).payload.sid, 'same session')
  t.equal(await me(app, second.access_token), 200)

  const grant = await app.inject({
    method: 'POST',
    url: '/api/v1/auth/token',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    payload: `grant_type=refresh_token&refresh_token=${second.refresh_token}`
  })
  t.equal(grant.statusCode, 200, 'the OAuth refresh_token grant shares the implementation')
  const third = grant.json<Tokens>()

  t.test('reusing a rotated token after the grace window ends the whole session', async (t) => {
    // Past the (zero) grace window for certain: the rotation moves a second back in time.
    await app.db.updateTable('refresh_tokens').set({ rotated_at: sql`rotated_at - interval '1 second'` }).where('token_hash', '=', sha256(first.refresh_token)).execute()
    const replay = await refresh(app, first.refresh_token)
    t.equal(replay.statusCode, 400)
    t.equal(replay.json().code, 'invalid_grant')
    t.match(replay.json().detail, /ended/)
    const newest = await refresh(app, third.refresh_token)
    t.equal(newest.statusCode, 400, 'the newest refresh token stops working too')
    t.equal(await me(app, third.access_token), 401, 'and so do the session\'s access tokens')
    const session = await app.db.selectFrom('sessions').selectAll().where('id', '=', decodeJwt(third.access_token).payload.sid as string).executeTakeFirstOrThrow()
    t.equal(session.revoked_reason, 'refresh_token_reuse')
  })
})

t.test('within the grace window a replay is refused without ending the session', async (t) => {
  const { app } = await buildApp(t)
  const account = await registerAccount(app)
  const first = await login(app, account.email, account.password)
  const second = (await refresh(app, first.refresh_token)).json<Tokens>()
  const replay = await refresh(app, first.refresh_token)
  t.equal(replay.statusCode, 400)
  t.equal(replay.json().code, 'invalid_grant')
  t.match(replay.json().detail, /already used/)
  const oauthReplay = await app.inject({ method: 'POST', url: '/api/v1/auth/token', payload: { grant_type: 'refresh_token', refresh_token: first.refresh_token } })
  t.same(oauthReplay.json(), { error: 'invalid_grant', error_description: 'the refresh token was already used' })
  t.equal((await refresh(app, second.refresh_token)).statusCode, 200, 'the successor still works')
})

t.test('unknown, expired, idle and disabled', async (t) => {
  const { app } = await buildApp(t)
  const account = await registerAccount(app)
  t.equal((await refresh(app, 'not-a-token')).json().code, 'invalid_grant')
  const missing = await app.inject({ method: 'POST', url: '/api/v1/auth/token', payload: { grant_type: 'refresh_token' } })
  t.equal(missing.json().error, 'invalid_request')

  const idle = await login(app, account.email, account.password)
  await app.db.updateTable('sessions').set({ last_used_at: new Date(Date.now() - 8 * 86400_000) }).where('id', '=', decodeJwt(idle.access_token).payload.sid as string).execute()
  t.match((await refresh(app, idle.refresh_token)).json().detail, /expired/, 'idle for 8 days (> 7)')

  const old = await login(app, account.email, account.password)
  await app.db.updateTable('sessions').set({ expires_at: new Date(Date.now() - 1000) }).where('id', '=', decodeJwt(old.access_token).payload.sid as string).execute()
  t.match((await refresh(app, old.refresh_token)).json().detail, /expired/, 'past the absolute lifetime')
  t.equal(await me(app, old.access_token), 401, 'an expired session\'s access token is refused')

  const live = await login(app, account.email, account.password)
  await app.db.updateTable('users').set({ is_active: false }).where('id', '=', account.id).execute()
  const disabled = await refresh(app, live.refresh_token)
  t.equal(disabled.statusCode, 400)
  t.match(disabled.json().detail, /disabled/)
})

t.test('logout, logout everywhere, and the session list', async (t) => {
  const { app } = await buildApp(t)
  const account = await registerAccount(app)
  const laptop = await login(app, account.email, account.password, 'Laptop/1.0')
  const phone = await login(app, account.email, account.password, 'Phone/2.0')

  const list = await app.inject({ method: 'GET', url: '/api/v1/auth/sessions', headers: bearer(laptop.access_token) })
  t.equal(list.statusCode, 200)
  const sessions = list.json<Array<{ id: string, current: boolean, user_agent: string }>>()
  t.equal(sessions.length, 3, 'register + two logins')
  t.same(sessions.filter((session) => session.current).map((session) => session.user_agent), ['Laptop/1.0'])

  const phoneSid = decodeJwt(phone.access_token).payload.sid as string
  const other = await registerAccount(app)
  const foreign = await app.inject({ method: 'DELETE', url: `/api/v1/auth/sessions/${phoneSid}`, headers: bearer(other.accessToken) })
  t.equal(foreign.statusCode, 404, 'another user\'s session is not found')
  t.equal((await app.inject({ method: 'DELETE', url: '/api/v1/auth/sessions/nope', headers: bearer(laptop.access_token) })).statusCode, 400)
  const end = await app.inject({ method: 'DELETE', url: `/api/v1/auth/sessions/${phoneSid}`, headers: bearer(laptop.access_token) })
  t.equal(end.statusCode, 204)
  t.equal(await me(app, phone.access_token), 401, 'the phone is signed out at once')
  t.equal((await refresh(app, phone.refresh_token)).statusCode, 400)

  const logout = await app.inject({ method: 'POST', url: '/api/v1/auth/logout', headers: bearer(laptop.access_token) })
  t.equal(logout.statusCode, 204)
  // As many HTTP clients send it: Content-Type: application/json and no body at all.
  const tablet = await login(app, account.email, account.password)
  const emptyJson = await app.inject({ method: 'POST', url: '/api/v1/auth/logout', headers: { ...bearer(tablet.access_token), 'content-type': 'application/json' }, payload: '' })
  t.equal(emptyJson.statusCode, 204, 'an empty application/json body is no body')
  t.equal(await me(app, tablet.access_token), 401, 'and that session ended')
  const emptyElsewhere = await app.inject({ method: 'PATCH', url: '/api/v1/users/me', headers: { ...bearer(account.accessToken), 'content-type': 'application/json' }, payload: '' })
  t.equal(emptyElsewhere.statusCode, 400, 'where a body is needed, an empty one is still invalid_json')
  t.equal(emptyElsewhere.json().code, 'invalid_json')
  t.equal(await me(app, laptop.access_token), 401)
  t.equal((await refresh(app, laptop.refresh_token)).statusCode, 400)
  t.equal(await me(app, account.accessToken), 200, 'the registration session goes on')

  const everywhere = await app.inject({ method: 'POST', url: '/api/v1/auth/logout', headers: bearer(account.accessToken), payload: { all: true } })
  t.equal(everywhere.statusCode, 204)
  t.equal(await me(app, account.accessToken), 401)
  const live = await app.db.selectFrom('sessions').select('id').where('user_id', '=', account.id).where('revoked_at', 'is', null).execute()
  t.equal(live.length, 0)
})

t.test('RFC 7009 revocation', async (t) => {
  const { app } = await buildApp(t)
  const account = await registerAccount(app)
  const revoke = (payload: string) => app.inject({ method: 'POST', url: '/api/v1/auth/revoke', headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload })

  const byRefresh = await login(app, account.email, account.password)
  const first = await revoke(`token=${byRefresh.refresh_token}&token_type_hint=refresh_token`)
  t.equal(first.statusCode, 200)
  t.equal(first.headers['cache-control'], 'no-store')
  t.equal(first.body, '', 'RFC 7009 §2.2: 200 with no body, as the OpenAPI document says')
  t.equal(first.headers['content-length'], '0')
  t.notOk(first.headers['content-type'], 'no content, so no content type')
  t.equal(await me(app, byRefresh.access_token), 401, 'revoking the refresh token ends its session')
  t.equal((await revoke(`token=${byRefresh.refresh_token}`)).statusCode, 200, 'already revoked: still 200')
  t.equal((await revoke('token=never-issued')).statusCode, 200, 'unknown: still 200')

  const byAccess = await login(app, account.email, account.password)
  t.equal((await revoke(`token=${byAccess.access_token}&token_type_hint=access_token`)).statusCode, 200)
  t.equal((await refresh(app, byAccess.refresh_token)).statusCode, 400, 'revoking the access token ends its session')

  const survivor = await login(app, account.email, account.password)
  const sid = decodeJwt(survivor.access_token).payload.sid
  const forged = `${Buffer.from('{"alg":"none","typ":"at+jwt"}').toString('base64url')}.${Buffer.from(JSON.stringify({ ...decodeJwt(survivor.access_token).payload, sid })).toString('base64url')}.`
  t.equal((await revoke(`token=${forged}`)).statusCode, 200)
  t.equal(await me(app, survivor.access_token), 200, 'a forged token ends nothing')

  const missing = await revoke('token_type_hint=refresh_token')
  t.equal(missing.statusCode, 400)
  t.same(missing.json(), { error: 'invalid_request', error_description: 'token is required' })
})

t.test('password change ends the other sessions; account deletion ends all', async (t) => {
  const { app } = await buildApp(t)
  const account = await registerAccount(app)
  const other = await login(app, account.email, account.password)
  const change = await app.inject({
    method: 'PUT',
    url: '/api/v1/users/me/password',
    headers: bearer(account.accessToken),
    payload: { current_password: account.password, new_password: 'a brand new password' }
  })
  t.equal(change.statusCode, 204)
  t.equal(await me(app, account.accessToken), 200, 'the current session goes on')
  t.equal(await me(app, other.access_token), 401, 'the other one is ended')
  t.equal((await refresh(app, other.refresh_token)).statusCode, 400)

  const remove = await app.inject({ method: 'DELETE', url: '/api/v1/users/me', headers: bearer(account.accessToken), payload: { password: 'a brand new password' } })
  t.equal(remove.statusCode, 204)
  t.equal((await app.db.selectFrom('sessions').select('id').where('user_id', '=', account.id).execute()).length, 0, 'sessions deleted with the account')
})

t.test('pruning deletes ended sessions and keeps live ones', async (t) => {
  const { app } = await buildApp(t)
  const account = await registerAccount(app)
  const ended = await login(app, account.email, account.password)
  await app.inject({ method: 'POST', url: '/api/v1/auth/logout', headers: bearer(ended.access_token) })
  const expired = await login(app, account.email, account.password)
  await app.db.updateTable('sessions').set({ expires_at: new Date(Date.now() - 1000) }).where('id', '=', decodeJwt(expired.access_token).payload.sid as string).execute()

  const result = await app.sessionsService.prune()
  t.same(result, { sessions: 2 })
  const left = await app.db.selectFrom('sessions').select('id').where('user_id', '=', account.id).execute()
  t.same(left.map((row) => row.id), [decodeJwt(account.accessToken).payload.sid])
  t.equal(await me(app, account.accessToken), 200)
})

t.test('the periodic prune runs on its own, on two instances sharing the database', async (t) => {
  const env = { SESSION_PRUNE_INTERVAL_MINUTES: '0.005' }
  const first = await buildApp(t, { env })
  await buildApp(t, { env, database: first.database })
  const account = await registerAccount(first.app)
  await first.app.inject({ method: 'POST', url: '/api/v1/auth/logout', headers: bearer(account.accessToken) })
  // Polled until pruned (every 0.3 s, the prune interval); 60 s is a deadline, not a measurement.
  let left = 1
  for (const deadline = Date.now() + 60_000; left > 0 && Date.now() < deadline;) {
    await new Promise((resolve) => setTimeout(resolve, 200))
    left = (await first.app.db.selectFrom('sessions').select('id').where('user_id', '=', account.id).execute()).length
  }
  t.equal(left, 0, 'the ended session was pruned without anyone asking')
})

t.test('the discovery document advertises the refresh_token grant and the revocation endpoint', async (t) => {
  const { app } = await buildApp(t)
  const metadata = (await app.inject({ method: 'GET', url: '/.well-known/oauth-authorization-server' })).json()
  t.ok(metadata.grant_types_supported.includes('refresh_token'))
  t.equal(metadata.revocation_endpoint, 'http://user-service.test/api/v1/auth/revoke')
})
