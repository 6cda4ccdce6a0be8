import t from 'tap'
import { decodeJwt } from '../auth/jwt-forge.js'
import { loginThrottled } from '../../src/auth/login-audit.js'
import { buildApp, registerAccount } from '../helper.js'
import { auditRows, from, metricSample, refuseEvents, secretsInAudit, type Tokens } from './audit-helpers.js'

const PASSWORD = 'correct horse battery'

t.test('register and login write their events with who, from where and which request', async (t) => {
  const { app } = await buildApp(t)
  const register = await app.inject({
    method: 'POST', url: '/api/v1/auth/register', headers: from('audit-client/1.0', 'req-register-1'),
    payload: { email: 'ada@example.com', username: 'ada', password: PASSWORD }
  })
  t.equal(register.statusCode, 201)
  const registered = register.json<Tokens & { user: { id: string } }>()
  const userId = registered.user.id

  const login = await app.inject({ method: 'POST', url: '/api/v1/auth/login', headers: from('audit-client/2.0', 'req-login-1'), payload: { login: 'ADA', password: PASSWORD } })
  t.equal(login.statusCode, 200)
  const grant = await app.inject({ method: 'POST', url: '/api/v1/auth/token', headers: from('oauth-client', 'req-grant-1'), payload: { grant_type: 'password', username: 'ada@example.com', password: PASSWORD } })
  t.equal(grant.statusCode, 200)

  const taken = await app.inject({ method: 'POST', url: '/api/v1/auth/register', payload: { email: 'ada@example.com', username: 'ada2', password: PASSWORD } })
  t.equal(taken.statusCode, 409, 'a refused registration records nothing')

  const [registerEvent, ...logins] = await auditRows(app.db)
  t.match(registerEvent, {
    action: 'register', outcome: 'success', actor_user_id: userId, subject_user_id: userId, client_id: null,
    ip: '127.0.0.1', user_agent: 'audit-client/1.0', request_id: 'req-register-1',
    details: { session_id: decodeJwt(registered.access_token).payload.sid }
  })
  t.ok(registerEvent?.at instanceof Date)
  t.same(logins.map((event) => [event.action, event.outcome, event.actor_user_id, event.subject_user_id, event.user_agent, event.request_id, event.details]), [
    ['login', 'success', userId, userId, 'audit-client/2.0', 'req-login-1', { session_id: decodeJwt(login.json<Tokens>().access_token).payload.sid }],
    ['login', 'success', userId, userId, 'oauth-client', 'req-grant-1', { session_id: decodeJwt(grant.json<Tokens>().access_token).payload.sid }]
  ])
  const secrets = [PASSWORD, registered.access_token, registered.refresh_token, login.json<Tokens>().refresh_token, grant.json<Tokens>().refresh_token]
  t.same(await secretsInAudit(app.db, secrets), [], 'no password or token in any event')
})

t.test('a refused login writes a failure naming the account, never the login as typed', async (t) => {
  const { app } = await buildApp(t)
  const account = await registerAccount(app)
  const before = await metricSample(app, 'audit_events_written_total{action="login",outcome="failure"}')

  const wrong = await app.inject({ method: 'POST', url: '/api/v1/auth/login', headers: from('guesser', 'req-wrong'), payload: { login: account.username, password: 'not the password 1' } })
  t.equal(wrong.statusCode, 401)
  // Someone typing their password into the login field: it must not end up in the table.
  const slip = 'my password typed in the wrong field'
  const unknown = await app.inject({ method: 'POST', url: '/api/v1/auth/token', headers: from('guesser', 'req-unknown'), payload: { grant_type: 'password', username: slip, password: 'x' } })
  t.equal(unknown.statusCode, 400)
  await app.db.updateTable('users').set({ is_active: false }).where('id', '=', account.id).execute()
  const disabled = await app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { login: account.email, password: account.password } })
  t.equal(disabled.statusCode, 403)

  const failures = await auditRows(app.db, 'login')
  t.same(failures.map((event) => [event.outcome, event.actor_user_id, event.subject_user_id, event.request_id, event.details]), [
    ['failure', null, account.id, 'req-wrong', { reason: 'wrong_password' }],
    ['failure', null, null, 'req-unknown', { reason: 'unknown_login' }],
    ['failure', null, account.id, disabled.headers['x-request-id'], { reason: 'account_disabled' }]
  ])
  t.same(await secretsInAudit(app.db, [slip, 'not the password 1', account.password, account.accessToken]), [])
  t.equal(await metricSample(app, 'audit_events_written_total{action="login",outcome="failure"}'), before + 3, 'counted')
  t.equal(await metricSample(app, 'audit_events_written_total{action="register",outcome="success"}'), 1)
})

t.test('refresh-token reuse writes one event with the session it ended; rotations and races write none', async (t) => {
  const { app } = await buildApp(t, { env: { REFRESH_REUSE_GRACE_SECONDS: '0' } })
  const account = await registerAccount(app)
  const first = (await app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { login: account.email, password: account.password } })).json<Tokens>()
  const refresh = (token: string, requestId: string) => app.inject({ method: 'POST', url: '/api/v1/auth/refresh', headers: from('thief/1.0', requestId), payload: { refresh_token: token } })
  const second = (await refresh(first.refresh_token, 'req-rotate')).json<Tokens>()
  t.same(await auditRows(app.db, 'refresh_token_reuse'), [], 'a rotation is no event')

  await app.db.updateTable('refresh_tokens').set({ rotated_at: new Date(Date.now() - 5000) }).where('rotated_at', 'is not', null).execute()
  t.equal((await refresh(first.refresh_token, 'req-reuse')).statusCode, 400)
  t.equal((await refresh(first.refresh_token, 'req-again')).statusCode, 400, 'the session has ended: no second event')

  const reuse = await auditRows(app.db, 'refresh_token_reuse')
  t.equal(reuse.length, 1)
  t.match(reuse[0], {
    outcome: 'failure', actor_user_id: null, subject_user_id: account.id, ip: '127.0.0.1', user_agent: 'thief/1.0', request_id: 'req-reuse',
    details: { session_id: decodeJwt(first.access_token).payload.sid }
  })
  t.same(await secretsInAudit(app.db, [first.refresh_token, second.refresh_token, first.access_token]), [])
  t.equal(await metricSample(app, 'audit_events_written_total{action="refresh_token_reuse",outcome="failure"}'), 1)
})

t.test('the sign-in statements write their event or nothing: a refused event leaves no account and no session', async (t) => {
  const { app } = await buildApp(t)
  const account = await registerAccount(app)
  await refuseEvents(app.db, "action not in ('register', 'login')")

  const register = await app.inject({ method: 'POST', url: '/api/v1/auth/register', payload: { email: 'bob@example.com', username: 'bob', password: PASSWORD } })
  t.equal(register.statusCode, 500)
  t.equal((await app.db.selectFrom('users').select('id').where('username', '=', 'bob').execute()).length, 0, 'no account')
  const sessionsBefore = (await app.db.selectFrom('sessions').select('id').execute()).length
  const login = await app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { login: account.email, password: account.password } })
  t.equal(login.statusCode, 500)
  t.equal((await app.db.selectFrom('sessions').select('id').execute()).length, sessionsBefore, 'no session')
  t.equal((await app.db.selectFrom('refresh_tokens').select('token_hash').execute()).length, sessionsBefore, 'no refresh token')
})

t.test('a login refused by the throttling writes a throttled event, with no account and no login', async (t) => {
  const env = { RATE_LIMIT_ENABLED: 'true', RATE_LIMIT_SIGNIN_MAX: '100000', LOGIN_MAX_FAILURES: '2' }
  const { app } = await buildApp(t, { env })
  const account = await registerAccount(app)
  const attempt = (requestId: string) => app.inject({ method: 'POST', url: '/api/v1/auth/login', remoteAddress: '203.0.113.1', headers: from('guesser', requestId), payload: { login: account.username, password: 'wrong guess 123' } })
  t.same([(await attempt('req-1')).statusCode, (await attempt('req-2')).statusCode, (await attempt('req-3')).statusCode], [401, 401, 429])
  t.same([(await attempt('req-4')).statusCode, (await attempt('req-5')).statusCode], [429, 429], 'more refusals within the minute...')

  t.same((await auditRows(app.db, 'login')).map((event) => [event.outcome, event.subject_user_id, event.ip, event.request_id, event.details]), [
    ['failure', account.id, '203.0.113.1', 'req-1', { reason: 'wrong_password' }],
    ['failure', account.id, '203.0.113.1', 'req-2', { reason: 'wrong_password' }],
    ['throttled', null, '203.0.113.1', 'req-3', { rule: 'login_pair', retry_after_seconds: 30 }]
  ], '...make no more events: a flood of refusals is one row a minute per login and address')
  t.same(await secretsInAudit(app.db, ['wrong guess 123', account.password]), [])
  t.equal(await metricSample(app, 'audit_events_written_total{action="login",outcome="throttled"}'), 1)
})

t.test('app.auditLog.record writes an event of its own; details that name a secret are refused', async (t) => {
  const { app } = await buildApp(t)
  const context = { ip: '203.0.113.7', userAgent: 'guesser', requestId: 'req-throttled' }
  await app.auditLog.record(loginThrottled(context, 'login_pair', 30))
  t.match(await auditRows(app.db, 'login'), [{ outcome: 'throttled', actor_user_id: null, subject_user_id: null, ip: '203.0.113.7', request_id: 'req-throttled', details: { rule: 'login_pair', retry_after_seconds: 30 } }])
  t.equal(await metricSample(app, 'audit_events_written_total{action="login",outcome="throttled"}'), 1)

  const leaky = { ...loginThrottled(context, 'login_pair', 30), details: { password: 'hunter2' } }
  await t.rejects(app.auditLog.record(leaky), /audit details must not hold secrets \(key "password"\)/)
  t.equal((await auditRows(app.db)).length, 1, 'nothing stored')
})
