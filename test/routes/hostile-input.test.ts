import t, { type Test } from 'tap'
import type { LightMyRequestResponse } from 'fastify'
import { bearer, buildApp, isProblem, LogCapture, registerAccount } from '../helper.js'

/**
 * Bodies built to make the service work hard or crash: tens of thousands of unknown fields,
 * deep nesting, NUL bytes everywhere, huge keys. Each gets one small 400, a small log line,
 * and changes nothing.
 */

const REGISTER = '/api/v1/auth/register'
/** An answer or log line about a hostile body stays this small, however big the body. */
const SMALL = 8 * 1024

interface Problem { code: string, detail: string, errors?: Array<{ path: string, message: string }> }

const logs = new LogCapture()
const { app } = await buildApp(t, { logs })
const account = await registerAccount(app)

function json (url: string, body: string, method: 'POST' | 'PATCH' = 'POST', headers: Record<string, string> = {}): Promise<LightMyRequestResponse> {
  return app.inject({ method, url, payload: body, headers: { 'content-type': 'application/json', ...headers } })
}

function manyFields (count: number, value: (index: number) => unknown = () => 0): Record<string, unknown> {
  const body: Record<string, unknown> = { email: 'many@example.com', username: 'many_fields', password: 'correct horse battery' }
  for (let index = 0; index < count; index += 1) body[`f${index}`] = value(index)
  return body
}

function nested (levels: number, open: string, close: string, inner = '1'): string {
  return open.repeat(levels) + inner + close.repeat(levels)
}

async function userCount (): Promise<number> {
  const row = await app.db.selectFrom('users').select((eb) => eb.fn.countAll<string>().as('n')).executeTakeFirstOrThrow()
  return Number(row.n)
}

/** The log lines written for one request, by its id. */
function linesOf (response: LightMyRequestResponse): string[] {
  const id = String(response.headers['x-request-id'])
  return logs.lines.filter((line) => line.includes(id))
}

function expectSmall400 (t: Test, response: LightMyRequestResponse): Problem {
  t.equal(response.statusCode, 400, response.body.slice(0, 200))
  t.ok(isProblem(response), 'problem+json')
  t.ok(response.body.length < SMALL, `the answer is small (${response.body.length} bytes)`)
  const lines = linesOf(response)
  t.ok(lines.length > 0, 'the request was logged')
  for (const line of lines) t.ok(line.length < SMALL, `a log line is small (${line.length} bytes)`)
  return response.json<Problem>()
}

t.test('80,000 fields: one 400 before the body is even parsed', async (t) => {
  const before = await userCount()
  const body = JSON.stringify(manyFields(80_000))
  t.ok(body.length > 850_000 && body.length <= 1024 * 1024, `a body under the 1 MiB limit (${body.length} bytes)`)
  const problem = expectSmall400(t, await json(REGISTER, body))
  t.equal(problem.code, 'validation_failed')
  t.equal(problem.errors?.length, 1)
  t.equal(problem.errors?.[0]?.path, '')
  t.match(problem.errors?.[0]?.message, /^holds more than 1000 fields and array elements \(at character \d+\); no request of this API needs that many$/)
  t.equal(await userCount(), before, 'nothing was written')

  const patch = await json('/api/v1/users/me', JSON.stringify(manyFields(20_000)), 'PATCH', bearer(account.accessToken))
  t.match(expectSmall400(t, patch).errors?.[0]?.message, /more than 1000 fields/, 'PATCH /users/me too')
  const array = await json(REGISTER, JSON.stringify({ ...manyFields(0), full_name: Array(1001).fill('x') }))
  t.match(expectSmall400(t, array).errors?.[0]?.message, /more than 1000 fields and array elements/, 'array elements count')
})

t.test('hundreds of unknown fields: 20 listed, and how many more', async (t) => {
  const problem = expectSmall400(t, await json(REGISTER, JSON.stringify(manyFields(900))))
  t.equal(problem.errors?.length, 20, 'the errors list is capped at 20')
  t.same(problem.errors?.slice(0, 2), [
    { path: '/f0', message: 'is not a known field' },
    { path: '/f1', message: 'is not a known field' }
  ])
  t.match(problem.detail, /; and 880 more$/, 'the detail says how many were not listed')
})

t.test('hundreds of NUL bytes: 20 listed', async (t) => {
  const problem = expectSmall400(t, await json(REGISTER, JSON.stringify({ ...manyFields(0), full_name: Array(900).fill('x\u0000') })))
  t.equal(problem.errors?.length, 20)
  t.ok(problem.errors?.every((error) => error.message === 'must not contain NUL bytes'))
})

t.test('a huge key is named, cut short', async (t) => {
  const key = 'k'.repeat(100_000)
  const problem = expectSmall400(t, await json(REGISTER, JSON.stringify({ ...manyFields(0), [key]: 1 })))
  t.equal(problem.errors?.length, 1)
  t.equal(problem.errors?.[0]?.path, `/${'k'.repeat(199)}…`)
})

t.test('JSON nested deeper than 64 levels is 400, not 500, on every JSON route', async (t) => {
  const tooDeep = [
    ['arrays, 65 levels', nested(65, '[', ']')],
    ['arrays, 5,000 levels', nested(5_000, '[', ']')],
    ['objects, 100,000 levels', nested(100_000, '{"a":', '}')]
  ] as const
  for (const [name, value] of tooDeep) {
    for (const field of ['full_name', 'unknown']) {
      const body = `{"email":"deep@example.com","username":"deep_one","password":"correct horse battery","${field}":${value}}`
      const problem = expectSmall400(t, await json(REGISTER, body))
      t.equal(problem.code, 'validation_failed', `${name} in ${field}`)
      t.match(problem.errors?.[0]?.message, /^is nested deeper than 64 levels \(at character \d+\)$/)
    }
    const login = await json('/api/v1/auth/login', `{"login":${value},"password":"x"}`)
    t.equal(login.statusCode, 400, `login: ${name}`)
    const patch = await json('/api/v1/users/me', `{"full_name":${value}}`, 'PATCH', bearer(account.accessToken))
    t.equal(patch.statusCode, 400, `PATCH /users/me: ${name}`)
    const token = await json('/api/v1/auth/token', `{"grant_type":"password","username":${value}}`)
    t.equal(token.statusCode, 400, `token endpoint: ${name}`)
    t.equal(token.json().error, 'invalid_request', 'in RFC 6749 shape there')
  }
  const top = expectSmall400(t, await json(REGISTER, nested(70, '[', ']')))
  t.match(top.errors?.[0]?.message, /nested deeper than 64 levels/, 'the body itself nested too deep')

  // 64 levels is within the limit: the answer is about the field, not the nesting.
  const atLimit = await json(REGISTER, `{"email":"deep@example.com","username":"deep_one","password":"correct horse battery","full_name":${nested(63, '[', ']')}}`)
  const problem = atLimit.json<Problem>()
  t.equal(problem.errors?.[0]?.path, '/full_name')
  t.notMatch(problem.errors?.[0]?.message, /nested/)
  t.equal(logs.lines.filter((line) => /"level":50/.test(line)).length, 0, 'nothing was logged as an error')
})

t.test('the walk of a parsed request part stops at depth 64 too (query strings, forms, any parser)', async (t) => {
  const { inspectRequestPart } = await import('../../src/schemas/request-inspection.js')
  let deep: unknown = 'leaf'
  for (let level = 0; level < 100_000; level += 1) deep = [deep]
  const found = inspectRequestPart({ field: deep }, '')
  t.equal(found.length, 1)
  t.match(found[0], { path: /^\/field(\/0){63}$/, message: 'is nested deeper than 64 levels' })
})
