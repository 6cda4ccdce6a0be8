import t, { type Test } from 'tap'
import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify'
import type { Kysely } from 'kysely'
import type { Database } from '../../src/db/types.js'
import { bearer, buildApp, isProblem, registerAccount, type Account } from '../helper.js'

/**
 * Bad input of every kind is a 4xx problem document with a clear message, never a 500,
 * and never leaves anything behind in the database.
 */

interface Problem {
  type: string
  title: string
  status: number
  detail: string
  instance: string
  code: string
  request_id: string
  errors?: Array<{ path: string, message: string }>
}

const REGISTER = '/api/v1/auth/register'
const LOGIN = '/api/v1/auth/login'
const ME = '/api/v1/users/me'
const PASSWORD = '/api/v1/users/me/password'

let counter = 0
/** A valid register body with fresh, unique values. */
function registration (fields: Record<string, unknown> = {}): Record<string, unknown> {
  counter += 1
  return { email: `bad${counter}@example.com`, username: `bad_${counter}`, password: 'correct horse battery', ...fields }
}

async function userCount (db: Kysely<Database>): Promise<number> {
  const row = await db.selectFrom('users').select((eb) => eb.fn.countAll<string>().as('n')).executeTakeFirstOrThrow()
  return Number(row.n)
}

/** Checks the RFC 9457 shape, status and code; returns the body for further checks. */
function expectProblem (t: Test, response: LightMyRequestResponse, status: number, code: string): Problem {
  t.equal(response.statusCode, status, `status ${status} (${response.body.slice(0, 300)})`)
  t.ok(isProblem(response), `content-type is application/problem+json, got ${String(response.headers['content-type'])}`)
  const body = response.json<Problem>()
  t.equal(body.code, code, 'code')
  t.equal(body.status, status, 'status in the body')
  t.equal(body.type, 'about:blank')
  t.type(body.title, 'string')
  t.ok(body.title.length > 0, 'has a title')
  t.type(body.detail, 'string')
  t.ok(body.detail.length > 0, 'has a detail')
  t.type(body.instance, 'string')
  t.equal(body.request_id, response.headers['x-request-id'], 'request_id matches the X-Request-ID header')
  return body
}

/** A 400 validation_failed whose `errors` name `path` with a message matching `message`. */
function expectFieldError (t: Test, response: LightMyRequestResponse, path: string, message: RegExp | string): Problem {
  const body = expectProblem(t, response, 400, 'validation_failed')
  const error = body.errors?.find((candidate) => candidate.path === path)
  t.ok(error, `errors include ${path}: ${JSON.stringify(body.errors)}`)
  if (error !== undefined) t.match(error.message, message, `message for ${path}`)
  t.match(body.detail, path, 'the detail names the field')
  return body
}

/** Runs `request` and asserts the number of users did not change. */
async function unchanged (t: Test, db: Kysely<Database>, request: () => Promise<LightMyRequestResponse>): Promise<LightMyRequestResponse> {
  const before = await userCount(db)
  const response = await request()
  t.equal(await userCount(db), before, 'no user was written')
  return response
}

function post (app: FastifyInstance, url: string, options: Omit<InjectOptions, 'method' | 'url'>): Promise<LightMyRequestResponse> {
  return app.inject({ method: 'POST', url, ...options })
}

function jsonBody (app: FastifyInstance, method: 'POST' | 'PATCH' | 'PUT', url: string, raw: string, headers: Record<string, string> = {}): Promise<LightMyRequestResponse> {
  return app.inject({ method, url, payload: raw, headers: { 'content-type': 'application/json', ...headers } })
}

const { app, database } = await buildApp(t)
/** The test's database, the one the app writes to. */
const db = database.handle.db
const account: Account = await registerAccount(app, { full_name: 'Original Name' })

async function storedUser (id: string): Promise<{ email: string, username: string, full_name: string | null, hashed_password: string | null }> {
  return db.selectFrom('users').select(['email', 'username', 'full_name', 'hashed_password']).where('id', '=', id).executeTakeFirstOrThrow()
}

t.test('malformed JSON is 400 invalid_json', async (t) => {
  const response = await unchanged(t, db, () => jsonBody(app, 'POST', REGISTER, '{"email": "a@example.com", "username": '))
  const body = expectProblem(t, response, 400, 'invalid_json')
  t.match(body.detail, /not valid JSON/)
  t.equal(body.instance, REGISTER)
})

t.test('an empty body with Content-Type application/json is 400 invalid_json', async (t) => {
  const response = await unchanged(t, db, () => jsonBody(app, 'POST', REGISTER, ''))
  const body = expectProblem(t, response, 400, 'invalid_json')
  t.match(body.detail, /empty/)
})

t.test('an empty JSON object lists every missing field', async (t) => {
  const response = await unchanged(t, db, () => jsonBody(app, 'POST', REGISTER, '{}'))
  const body = expectFieldError(t, response, '/email', 'is required')
  t.same(body.errors?.map((error) => error.path).sort(), ['/email', '/password', '/username'])
})

t.test('text/plain on /auth/register is 415 unsupported_media_type', async (t) => {
  const response = await unchanged(t, db, () => post(app, REGISTER, {
    payload: JSON.stringify(registration()),
    headers: { 'content-type': 'text/plain' }
  }))
  const body = expectProblem(t, response, 415, 'unsupported_media_type')
  t.match(body.detail, /content type/i)
  t.match(body.detail, 'application/json', 'says what to send instead')
})

t.test('a form-encoded body on /auth/register is 415 (forms are for the token endpoint only)', async (t) => {
  const response = await unchanged(t, db, () => post(app, REGISTER, {
    payload: new URLSearchParams(registration() as Record<string, string>).toString(),
    headers: { 'content-type': 'application/x-www-form-urlencoded' }
  }))
  const body = expectProblem(t, response, 415, 'unsupported_media_type')
  t.match(body.detail, 'application/json', 'says what to send instead')
})

t.test('a NUL byte in any register field is 400 with the field\'s path', async (t) => {
  for (const field of ['email', 'username', 'password', 'full_name']) {
    const values: Record<string, string> = { email: 'nul\u0000@example.com', username: 'nul\u0000user', password: 'correct\u0000horse battery', full_name: 'Nul\u0000Name' }
    const response = await unchanged(t, db, () => post(app, REGISTER, { payload: registration({ [field]: values[field] }) }))
    const body = expectFieldError(t, response, `/${field}`, /NUL/)
    t.equal(body.errors?.length, 1, `only /${field} is reported`)
  }
})

t.test('a NUL byte in login fields is 400 with the field\'s path', async (t) => {
  const byLogin = await unchanged(t, db, () => post(app, LOGIN, { payload: { login: `${account.username}\u0000`, password: account.password } }))
  expectFieldError(t, byLogin, '/login', /NUL/)
  const byPassword = await unchanged(t, db, () => post(app, LOGIN, { payload: { login: account.username, password: `${account.password}\u0000` } }))
  expectFieldError(t, byPassword, '/password', /NUL/)
})

t.test('a NUL byte in PATCH /users/me fields is 400 and changes nothing', async (t) => {
  const before = await storedUser(account.id)
  const values: Record<string, string> = { full_name: 'New\u0000Name', email: 'new\u0000@example.com', username: 'new\u0000name' }
  for (const field of ['full_name', 'email', 'username']) {
    const response = await app.inject({ method: 'PATCH', url: ME, headers: bearer(account.accessToken), payload: { [field]: values[field] } })
    expectFieldError(t, response, `/${field}`, /NUL/)
  }
  t.same(await storedUser(account.id), before, 'the profile is unchanged')
})

t.test('a NUL byte in the password change is 400 and the password stays', async (t) => {
  const before = await storedUser(account.id)
  const current = await app.inject({ method: 'PUT', url: PASSWORD, headers: bearer(account.accessToken), payload: { current_password: `${account.password}\u0000`, new_password: 'another good password' } })
  expectFieldError(t, current, '/current_password', /NUL/)
  const next = await app.inject({ method: 'PUT', url: PASSWORD, headers: bearer(account.accessToken), payload: { current_password: account.password, new_password: 'another\u0000password' } })
  expectFieldError(t, next, '/new_password', /NUL/)
  t.equal((await storedUser(account.id)).hashed_password, before.hashed_password, 'the stored hash is unchanged')
  const login = await post(app, LOGIN, { payload: { login: account.username, password: account.password } })
  t.equal(login.statusCode, 200, 'the old password still works')
})

t.test('a NUL byte in a JSON key is refused too', async (t) => {
  const response = await unchanged(t, db, () => jsonBody(app, 'POST', REGISTER, JSON.stringify({ ...registration(), 'nick\u0000name': 'x' })))
  expectProblem(t, response, 400, 'validation_failed')
})

t.test('a body over the 1 MiB default limit is 413 payload_too_large', async (t) => {
  const oneMiB = 1024 * 1024
  const big = JSON.stringify(registration({ full_name: 'x'.repeat(oneMiB) }))
  const response = await unchanged(t, db, () => jsonBody(app, 'POST', REGISTER, big))
  const body = expectProblem(t, response, 413, 'payload_too_large')
  t.match(body.detail, /larger than the limit/)

  const tenMB = await unchanged(t, db, () => jsonBody(app, 'POST', REGISTER, JSON.stringify({ full_name: 'y'.repeat(10_000_000) })))
  expectProblem(t, tenMB, 413, 'payload_too_large')

  // Just under the limit is read and validated (a 400 for the long field, not a 413).
  const valid = JSON.stringify(registration())
  const underLimit = valid.slice(0, -1) + ' '.repeat(oneMiB - valid.length) + '}'
  t.equal(Buffer.byteLength(underLimit), oneMiB)
  const accepted = await post(app, REGISTER, { payload: underLimit, headers: { 'content-type': 'application/json' } })
  t.equal(accepted.statusCode, 201, 'a body of exactly 1 MiB is accepted')
})

t.test('BODY_LIMIT_BYTES lowers the limit', async (t) => {
  // HS256 spares this second app an RSA key generation; the body limit does not depend on it.
  const env = { BODY_LIMIT_BYTES: '2048', JWT_ALGORITHM: 'HS256', JWT_SECRET_KEY: 'a-test-secret-that-is-at-least-32-bytes-long' }
  const { app: small, database: smallDatabase } = await buildApp(t, { env })
  const pad = (body: Record<string, unknown>, bytes: number): string => {
    const json = JSON.stringify(body)
    return json.slice(0, -1) + ' '.repeat(bytes - json.length) + '}'
  }
  const atLimit = await post(small, REGISTER, { payload: pad(registration(), 2048), headers: { 'content-type': 'application/json' } })
  t.equal(atLimit.statusCode, 201, 'a 2048-byte body is accepted')
  const before = await userCount(smallDatabase.handle.db)
  const overLimit = await post(small, REGISTER, { payload: pad(registration(), 2049), headers: { 'content-type': 'application/json' } })
  expectProblem(t, overLimit, 413, 'payload_too_large')
  t.equal(await userCount(smallDatabase.handle.db), before, 'no user was written')
})

t.test('a 5,000-character field is 400 naming the field and its limit', async (t) => {
  const long = 'a'.repeat(5000)
  const cases: Array<[string, string, RegExp]> = [
    ['full_name', long, /200/],
    ['username', long, /32/],
    ['email', `${'a'.repeat(4988)}@example.com`, /320/]
  ]
  for (const [field, value, limit] of cases) {
    t.equal(value.length, 5000)
    const response = await unchanged(t, db, () => post(app, REGISTER, { payload: registration({ [field]: value }) }))
    expectFieldError(t, response, `/${field}`, limit)
  }
  const patch = await app.inject({ method: 'PATCH', url: ME, headers: bearer(account.accessToken), payload: { full_name: long } })
  expectFieldError(t, patch, '/full_name', /200/)
})

t.test('an unknown field is rejected, not stripped', async (t) => {
  const response = await unchanged(t, db, () => post(app, REGISTER, { payload: registration({ nickname: 'ally' }) }))
  const body = expectFieldError(t, response, '/nickname', /not a known field|unknown/)
  t.equal(body.errors?.length, 1)
  const patch = await app.inject({ method: 'PATCH', url: ME, headers: bearer(account.accessToken), payload: { full_name: 'Changed', is_admin: true } })
  expectFieldError(t, patch, '/is_admin', /not a known field|unknown/)
  t.equal((await storedUser(account.id)).full_name, 'Original Name', 'the known field was not applied either')
})

t.test('a missing field is 400 "is required"', async (t) => {
  const body = registration()
  delete body.password
  const response = await unchanged(t, db, () => post(app, REGISTER, { payload: body }))
  const problem = expectFieldError(t, response, '/password', /^is required$/)
  t.equal(problem.errors?.length, 1)
})

t.test('a non-UUID id is 400, not 500', async (t) => {
  for (const id of ['not-a-uuid', '1', '00000000-0000-0000-0000-00000000000g', `${'a'.repeat(150)}`]) {
    const response = await app.inject({ method: 'GET', url: `/api/v1/users/${id}`, headers: bearer(account.accessToken) })
    expectFieldError(t, response, '/params/id', /uuid/)
  }
  const valid = await app.inject({ method: 'GET', url: `/api/v1/users/${account.id}`, headers: bearer(account.accessToken) })
  t.equal(valid.statusCode, 200, 'a real id still works')
})

t.test('an email without @ is 400', async (t) => {
  const response = await unchanged(t, db, () => post(app, REGISTER, { payload: registration({ email: 'alice.example.com' }) }))
  expectFieldError(t, response, '/email', /email address/)
})

t.test('passwords must be 8 to 128 characters', async (t) => {
  for (const length of [7, 129]) {
    const response = await unchanged(t, db, () => post(app, REGISTER, { payload: registration({ password: 'p'.repeat(length) }) }))
    expectFieldError(t, response, '/password', length < 8 ? /fewer than 8/ : /more than 128/)
  }
  for (const length of [8, 128]) {
    const password = 'p'.repeat(length)
    const before = await userCount(db)
    const body = registration({ password })
    const response = await post(app, REGISTER, { payload: body })
    t.equal(response.statusCode, 201, `${length} characters accepted`)
    t.equal(await userCount(db), before + 1)
    const login = await post(app, LOGIN, { payload: { login: body.username, password } })
    t.equal(login.statusCode, 200, `${length}-character password logs in`)
    const truncated = await post(app, LOGIN, { payload: { login: body.username, password: password.slice(0, -1) } })
    t.equal(truncated.statusCode, 401, 'the password is not truncated')
  }
})

t.test('a wrong JSON type is 400 naming the field', async (t) => {
  const response = await unchanged(t, db, () => post(app, REGISTER, { payload: registration({ username: 12345 }) }))
  expectFieldError(t, response, '/username', /string/)
  const boolean = await unchanged(t, db, () => post(app, REGISTER, { payload: registration({ full_name: true }) }))
  expectProblem(t, boolean, 400, 'validation_failed')
})

t.test('a JSON array body is 400', async (t) => {
  const response = await unchanged(t, db, () => jsonBody(app, 'POST', REGISTER, JSON.stringify([registration()])))
  const body = expectProblem(t, response, 400, 'validation_failed')
  t.match(body.detail, /object/)
  const scalar = await unchanged(t, db, () => jsonBody(app, 'POST', REGISTER, '"hello"'))
  expectProblem(t, scalar, 400, 'validation_failed')
})

t.test('a prototype-pollution body is 400 and pollutes nothing', async (t) => {
  const raw = `{"email":"proto@example.com","username":"proto","password":"correct horse battery","__proto__":{"roles":["admin"],"polluted":true}}`
  const response = await unchanged(t, db, () => jsonBody(app, 'POST', REGISTER, raw))
  t.equal(response.statusCode, 400)
  t.ok(isProblem(response))
  t.equal(response.json<Problem>().code, 'invalid_json')
  t.equal(response.json<Problem>().detail, 'the body has a "__proto__" or "constructor.prototype" key; such keys are refused')
  t.equal((({}) as Record<string, unknown>).polluted, undefined, 'Object.prototype is untouched')
  const constructor = `{"email":"proto2@example.com","username":"proto2","password":"correct horse battery","constructor":{"prototype":{"polluted":true}}}`
  const second = await unchanged(t, db, () => jsonBody(app, 'POST', REGISTER, constructor))
  t.equal(second.statusCode, 400)
  t.ok(isProblem(second))
  t.equal(second.json<Problem>().detail, response.json<Problem>().detail)
  t.equal((({}) as Record<string, unknown>).polluted, undefined)
  const stored = await db.selectFrom('users').select('id').where('email', 'in', ['proto@example.com', 'proto2@example.com']).execute()
  t.same(stored, [])
})

t.test('X-Request-ID: a well-formed one is echoed, a bad one replaced', async (t) => {
  const wellFormed = `req-1.2:3_${'A'.repeat(118)}`
  t.equal(wellFormed.length, 128)
  const echoed = await post(app, REGISTER, { payload: registration({ email: 'no-at-sign' }), headers: { 'x-request-id': wellFormed } })
  t.equal(echoed.headers['x-request-id'], wellFormed, 'echoed in the header')
  t.equal(expectProblem(t, echoed, 400, 'validation_failed').request_id, wellFormed, 'and in the problem body')
  const ok = await app.inject({ method: 'GET', url: ME, headers: { ...bearer(account.accessToken), 'x-request-id': 'abc-123' } })
  t.equal(ok.statusCode, 200)
  t.equal(ok.headers['x-request-id'], 'abc-123', 'echoed on a success too')

  for (const bad of ['x'.repeat(129), 'has space', 'semi;colon', '<script>', 'ünïcode']) {
    const response = await post(app, REGISTER, { payload: registration({ email: 'no-at-sign' }), headers: { 'x-request-id': bad } })
    const generated = String(response.headers['x-request-id'])
    t.not(generated, bad, `${JSON.stringify(bad.slice(0, 20))} is not used`)
    t.match(generated, /^[A-Za-z0-9._:-]{1,128}$/, 'a well-formed id is generated')
    t.equal(expectProblem(t, response, 400, 'validation_failed').request_id, generated)
  }
  const a = await app.inject({ method: 'GET', url: '/nowhere' })
  const b = await app.inject({ method: 'GET', url: '/nowhere' })
  t.not(a.headers['x-request-id'], b.headers['x-request-id'], 'generated ids differ')
})

t.test('an unknown route is a 404 problem', async (t) => {
  const response = await app.inject({ method: 'GET', url: '/api/v1/nothing-here?x=1' })
  const body = expectProblem(t, response, 404, 'not_found')
  t.equal(body.instance, '/api/v1/nothing-here')
  t.match(body.detail, '/api/v1/nothing-here')
  const post404 = await unchanged(t, db, () => post(app, '/api/v1/auth/registr', { payload: registration() }))
  expectProblem(t, post404, 404, 'not_found')
})

t.test('PATCH /users/me with {} is 400', async (t) => {
  const before = await storedUser(account.id)
  const response = await app.inject({ method: 'PATCH', url: ME, headers: bearer(account.accessToken), payload: {} })
  const body = expectProblem(t, response, 400, 'validation_failed')
  t.ok(body.detail.length > 0)
  t.same(await storedUser(account.id), before)
})

t.test('emails are trimmed and lower-cased; duplicates differ only in case', async (t) => {
  const response = await post(app, REGISTER, { payload: { email: '  Alice@Example.COM  ', username: 'alice', password: 'correct horse battery' } })
  t.equal(response.statusCode, 201, response.body)
  const user = response.json<{ user: { id: string, email: string } }>().user
  t.equal(user.email, 'alice@example.com')
  t.equal((await storedUser(user.id)).email, 'alice@example.com', 'stored normalised')

  const duplicate = await unchanged(t, db, () => post(app, REGISTER, { payload: { email: 'alice@example.com', username: 'alice2', password: 'correct horse battery' } }))
  const body = expectProblem(t, duplicate, 409, 'email_taken')
  t.equal(body.instance, REGISTER)
  const shouting = await unchanged(t, db, () => post(app, REGISTER, { payload: { email: 'ALICE@EXAMPLE.COM', username: 'alice3', password: 'correct horse battery' } }))
  expectProblem(t, shouting, 409, 'email_taken')
})

t.test('usernames keep their case but are unique regardless of it', async (t) => {
  const response = await post(app, REGISTER, { payload: { email: 'bob@example.com', username: 'Bob', password: 'correct horse battery' } })
  t.equal(response.statusCode, 201, response.body)
  const user = response.json<{ user: { id: string, username: string } }>().user
  t.equal(user.username, 'Bob', 'case kept for display')
  t.equal((await storedUser(user.id)).username, 'Bob')

  const duplicate = await unchanged(t, db, () => post(app, REGISTER, { payload: { email: 'bob2@example.com', username: 'bob', password: 'correct horse battery' } }))
  expectProblem(t, duplicate, 409, 'username_taken')

  const other = await registerAccount(app)
  const patch = await app.inject({ method: 'PATCH', url: ME, headers: bearer(other.accessToken), payload: { username: 'BOB' } })
  expectProblem(t, patch, 409, 'username_taken')
  t.equal((await storedUser(other.id)).username, other.username)
})

t.test('login by email or username ignores case', async (t) => {
  const password = 'correct horse battery'
  await post(app, REGISTER, { payload: { email: 'carol@example.com', username: 'Carol', password } })
  for (const login of ['carol@example.com', 'CAROL@Example.com', '  Carol@example.com ', 'Carol', 'carol', 'CAROL']) {
    const response = await post(app, LOGIN, { payload: { login, password } })
    t.equal(response.statusCode, 200, `login as ${JSON.stringify(login)}`)
    t.equal(response.json<{ user: { username: string } }>().user.username, 'Carol')
  }
  const wrong = await post(app, LOGIN, { payload: { login: 'CAROL', password: 'Correct horse battery' } })
  expectProblem(t, wrong, 401, 'invalid_credentials')
})
