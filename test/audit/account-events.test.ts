import type { FastifyInstance } from 'fastify'
import t from 'tap'
import { decodeJwt } from '../auth/jwt-forge.js'
import { bearer, buildApp, registerAccount, type Account } from '../helper.js'
import { auditRows, from, metricSample, refuseEvents, secretsInAudit, type Tokens } from './audit-helpers.js'

async function signIn (app: FastifyInstance, account: Account): Promise<Tokens & { sid: string }> {
  const tokens = (await app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { login: account.email, password: account.password } })).json<Tokens>()
  return { ...tokens, sid: decodeJwt(tokens.access_token).payload.sid as string }
}

t.test('logout, logout everywhere, ending a session and RFC 7009 revocation write their events', async (t) => {
  const { app } = await buildApp(t)
  const account = await registerAccount(app)
  const [one, two, three, four, five] = [await signIn(app, account), await signIn(app, account), await signIn(app, account), await signIn(app, account), await signIn(app, account)]
  const ends = async (method: 'POST' | 'DELETE', url: string, requestId: string, token: string | null, payload?: Record<string, unknown>) =>
    (await app.inject({ method, url: `/api/v1/auth/${url}`, headers: from('ender', requestId, token === null ? {} : bearer(token)), ...(payload === undefined ? {} : { payload }) })).statusCode

  t.equal(await ends('POST', 'logout', 'req-logout', one.access_token), 204)
  t.equal(await ends('DELETE', `sessions/${two.sid}`, 'req-end', three.access_token), 204)
  t.equal(await ends('POST', 'revoke', 'req-revoke-refresh', null, { token: three.refresh_token }), 200)
  t.equal(await ends('POST', 'revoke', 'req-revoke-again', null, { token: three.refresh_token }), 200)
  t.equal(await ends('POST', 'revoke', 'req-revoke-access', null, { token: four.access_token, token_type_hint: 'access_token' }), 200)
  t.equal(await ends('POST', 'logout', 'req-logout-all', five.access_token, { all: true }), 204)

  const events = (await auditRows(app.db)).filter((event) => event.action === 'logout' || event.action === 'session_revoked')
  t.same(events.map((event) => [event.action, event.actor_user_id, event.subject_user_id, event.request_id, event.user_agent, event.details]), [
    ['logout', account.id, account.id, 'req-logout', 'ender', { all: false, session_id: one.sid, sessions: 1 }],
    ['session_revoked', account.id, account.id, 'req-end', 'ender', { session_id: two.sid, sessions: 1 }],
    ['logout', null, account.id, 'req-revoke-refresh', 'ender', { via: 'revoke', session_id: three.sid, sessions: 1 }],
    ['logout', null, account.id, 'req-revoke-access', 'ender', { via: 'revoke', session_id: four.sid, sessions: 1 }],
    // The registration's session and the fifth were still live.
    ['logout', account.id, account.id, 'req-logout-all', 'ender', { all: true, sessions: 2 }]
  ], 'revoking an ended session again writes nothing')
  t.same(await secretsInAudit(app.db, [one, two, three, four, five].flatMap((tokens) => [tokens.access_token, tokens.refresh_token])), [])
  t.equal(await metricSample(app, 'audit_events_written_total{action="logout",outcome="success"}'), 4)
})

t.test('a password change writes its event with the change, and a refused one writes none', async (t) => {
  const { app } = await buildApp(t)
  const account = await registerAccount(app)
  await signIn(app, account)
  const change = (current: string, next: string) => app.inject({
    method: 'PUT', url: '/api/v1/users/me/password', headers: from('changer', 'req-change', bearer(account.accessToken)),
    payload: { current_password: current, new_password: next }
  })

  t.equal((await change('not my password', 'a brand new password')).statusCode, 403)
  t.same(await auditRows(app.db, 'password_changed'), [], 'a wrong current password changes nothing and records nothing')

  await refuseEvents(app.db, "action <> 'password_changed'")
  t.equal((await change(account.password, 'a brand new password')).statusCode, 500)
  t.equal((await signIn(app, account)).access_token.length > 0, true, 'the event refused, the password did not change')
  await app.db.schema.alterTable('audit_events').dropConstraint('test_refuse_events').execute()

  t.equal((await change(account.password, 'a brand new password')).statusCode, 204)
  const [event] = await auditRows(app.db, 'password_changed')
  t.match(event, { outcome: 'success', actor_user_id: account.id, subject_user_id: account.id, request_id: 'req-change', user_agent: 'changer', details: { sessions_ended: 2 } })
  t.same(await secretsInAudit(app.db, [account.password, 'a brand new password', account.accessToken]), [])
})

t.test('an account deletion writes an event that outlives the account', async (t) => {
  const { app } = await buildApp(t)
  const account = await registerAccount(app)
  const remove = (password: string) => app.inject({ method: 'DELETE', url: '/api/v1/users/me', headers: from('leaver', 'req-delete', bearer(account.accessToken)), payload: { password } })

  t.equal((await remove('not my password')).statusCode, 403)
  t.same(await auditRows(app.db, 'account_deleted'), [])
  t.equal((await remove(account.password)).statusCode, 204)
  const [event] = await auditRows(app.db, 'account_deleted')
  t.match(event, { outcome: 'success', actor_user_id: account.id, subject_user_id: account.id, request_id: 'req-delete', details: {} })
  t.equal((await auditRows(app.db)).filter((row) => row.subject_user_id === account.id).length, 2, 'the register event is kept too')
  t.same(await secretsInAudit(app.db, [account.password, account.accessToken]), [])
})
