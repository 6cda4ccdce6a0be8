import { sql } from 'kysely'
import pino from 'pino'
import t from 'tap'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { accessLine, serializeRequest } from '../src/logging.js'
import { bearer, buildApp, LogCapture, registerAccount } from './helper.js'

t.test('logs: one JSON line per request with its id, and no secrets', async (t) => {
  const logs = new LogCapture()
  const { app } = await buildApp(t, { logs })
  const password = 'Very-Secret-Password-1'
  const newPassword = 'Even-More-Secret-Password-2'

  const account = await registerAccount(app, { password })
  const form = await app.inject({
    method: 'POST',
    url: '/api/v1/auth/token',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: 'Basic Og==' },
    payload: `grant_type=password&username=${account.username}&password=${password}`
  })
  t.equal(form.statusCode, 200)
  const login = await app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { login: account.email, password } })
  const token = login.json().access_token as string
  const change = await app.inject({
    method: 'PUT',
    url: '/api/v1/users/me/password',
    headers: { ...bearer(token), 'x-request-id': 'ops-trace-42' },
    payload: { current_password: password, new_password: newPassword }
  })
  t.equal(change.statusCode, 204)
  t.equal(change.headers['x-request-id'], 'ops-trace-42')
  await app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { login: account.email, password: 'a wrong password' } })

  const text = logs.text
  for (const secret of [password, newPassword, 'a wrong password', token, account.accessToken, form.json().access_token, token.split('.')[2] ?? '']) {
    t.notOk(text.includes(secret), `the logs do not contain ${secret.slice(0, 12)}…`)
  }
  t.notMatch(text, /Bearer /i, 'no Authorization header value')
  t.notMatch(text, /Basic Og==/, 'no Basic credentials')

  const records = logs.records()
  t.ok(records.every((record) => typeof record.level === 'number' && typeof record.time === 'number'), 'pino JSON lines')
  const completed = records.filter((record) => record.msg === 'request completed')
  t.equal(completed.length, 5, 'one line per request')
  t.ok(completed.every((record) => typeof record.reqId === 'string'), 'each with its reqId')
  const traced = completed.find((record) => record.reqId === 'ops-trace-42')
  t.ok(traced, 'the caller\'s X-Request-ID is the log\'s reqId')
  t.match(traced, { req: { method: 'PUT', url: '/api/v1/users/me/password' }, res: { statusCode: 204 } })
})

t.test('the access line: one per request, the query values hidden', async (t) => {
  const logs = new LogCapture()
  const { app } = await buildApp(t, { logs })
  const response = await app.inject({ method: 'GET', url: '/health?next=%22x%22&token=s3cret', headers: { 'x-request-id': 'trace:one.1', host: 'api.example.com:8080' } })
  t.equal(response.statusCode, 200)
  const lines = logs.records().filter((record) => record.msg === 'request completed')
  t.equal(lines.length, 1)
  t.match(lines[0], {
    level: 30,
    time: Number,
    pid: process.pid,
    reqId: 'trace:one.1',
    req: { method: 'GET', url: '/health?next=[redacted]&token=[redacted]', host: 'api.example.com:8080', remoteAddress: '127.0.0.1' },
    res: { statusCode: 200 },
    responseTime: Number
  })
  t.notOk(logs.text.includes('s3cret'), 'no query value')
})

t.test('the access line is, byte for byte, the line pino writes for the same fields', async (t) => {
  const request = {
    id: 'id-"1"', method: 'GET', url: '/a/"quoted"/\\path/é\u2028?x=1', host: 'h\\ost:1', ip: '::1', socket: { remotePort: 5150 }
  } as unknown as FastifyRequest
  const reply = { statusCode: 404, elapsedTime: 1.23456 } as unknown as FastifyReply
  const written = new LogCapture()
  const logger = pino({ level: 'info', serializers: { req: serializeRequest } }, written)
  const ours = accessLine(logger, request, reply)
  logger.info({ reqId: request.id, req: request, res: { statusCode: 404 }, responseTime: 1.23 }, 'request completed')
  const theirs = written.lines[0] ?? ''
  const withoutTime = (line: string): string => line.replace(/"time":\d+/, '"time":0')
  t.equal(withoutTime(ours), `${withoutTime(theirs)}\n`)
  t.match(JSON.parse(ours), { req: { url: '/a/"quoted"/\\path/é\u2028?x=[redacted]', remotePort: 5150 } })
})

t.test('a 5xx hides the cause from the client and logs it under the request id', async (t) => {
  const logs = new LogCapture()
  const { app, database } = await buildApp(t, { logs })
  await database.handle.db.destroy()

  const response = await app.inject({
    method: 'POST',
    url: '/api/v1/auth/login',
    headers: { 'x-request-id': 'broken-db-1' },
    payload: { login: 'alice@example.com', password: 'whatever password' }
  })
  t.equal(response.statusCode, 500)
  const body = response.json()
  t.equal(body.code, 'internal_error')
  t.equal(body.request_id, 'broken-db-1')
  t.notMatch(body.detail, /kysely|destroy|driver|stack|at /i, 'no internals in the answer')
  const logged = logs.records().find((record) => record.reqId === 'broken-db-1' && record.level === 50)
  t.ok(logged, 'an error line with the request id')
  t.match(logged, { err: { message: String } })
})

t.test('a database error on a write logs no bound parameter and no row: no hash, no token, no email', async (t) => {
  const logs = new LogCapture()
  const { app } = await buildApp(t, { logs })
  // A constraint the API does not know about, so a valid registration fails inside the
  // statement that also stores the password hash and the refresh-token hash.
  await sql`alter table users add constraint test_refuses_boom check (full_name is distinct from 'boom')`.execute(app.db)
  const email = 'secret-address@example.com'
  const response = await app.inject({
    method: 'POST',
    url: '/api/v1/auth/register',
    headers: { 'x-request-id': 'constraint-1' },
    payload: { email, username: 'boom_user', password: 'Very-Secret-Password-1', full_name: 'boom' }
  })
  t.equal(response.statusCode, 500)
  t.equal(response.json().code, 'internal_error')
  const logged = logs.records().filter((record) => record.reqId === 'constraint-1' && record.level === 50)
  t.ok(logged.length > 0, 'the failure is logged at error level with the request id')
  t.match(logged[0], { err: { message: /test_refuses_boom/, constraint: 'test_refuses_boom' } }, 'with what ops need: the message and the constraint')
  const text = logs.text
  t.notMatch(text, /\$argon2id\$/, 'no password hash')
  t.notOk(text.includes(email), 'no email')
  t.notOk(text.includes('Very-Secret-Password-1'), 'no password')
  t.notMatch(text, /"(detail|params|parameters|query)":/, 'no driver detail, parameters or query')
  const sessionTokens = await app.db.selectFrom('refresh_tokens').select('token_hash').execute()
  t.same(sessionTokens, [], 'nothing was stored')
})

t.test('query strings are logged without their values', async (t) => {
  const logs = new LogCapture()
  const { app } = await buildApp(t, { logs })
  const account = await registerAccount(app)
  await app.inject({ method: 'GET', url: '/api/v1/users/me?password=hunter2-in-a-query&access_token=leaky-token&flag', headers: bearer(account.accessToken) })
  await app.inject({ method: 'POST', url: '/api/v1/auth/token?client_secret=query-secret', payload: { grant_type: 'password', username: account.username, password: account.password } })
  await app.inject({ method: 'GET', url: '/nowhere?token=not-found-secret' })
  const text = logs.text
  for (const secret of ['hunter2-in-a-query', 'leaky-token', 'query-secret', 'not-found-secret']) {
    t.notOk(text.includes(secret), `the log does not hold ${secret}`)
  }
  const urls = logs.records().flatMap((record) => {
    const req = record.req as { url?: string } | undefined
    return req?.url === undefined ? [] : [req.url]
  })
  t.ok(urls.includes('/api/v1/users/me?password=[redacted]&access_token=[redacted]&flag'), 'the path and the parameter names stay')
  t.ok(urls.includes('/nowhere?token=[redacted]'))
})
