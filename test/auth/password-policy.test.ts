import { access } from 'node:fs/promises'
import { join } from 'node:path'
import type { LightMyRequestResponse } from 'fastify'
import t, { type Test } from 'tap'
import { PasswordPolicy } from '../../src/auth/password-policy.js'
import { newUserRow } from '../../src/users/users.service.js'
import { cli } from '../cli/in-process.js'
import { bearer, buildApp, isProblem, registerAccount, testDatabaseKind } from '../helper.js'
import { databaseUrl } from '../setup/databases.js'

const REGISTER = '/api/v1/auth/register'
const COMMON = 'is one of the most common passwords; choose one that is harder to guess'
const USERNAME = 'must not contain the username'
const EMAIL = 'must not contain the email address or the part before its @'

/** A refusal as a client sees it: one 400 validation_failed problem naming the field and the reason. */
function refused (t: Test, response: LightMyRequestResponse, path: string, message: string, name: string): void {
  t.equal(response.statusCode, 400, `${name}: 400`)
  t.ok(isProblem(response), `${name}: problem+json`)
  const body = response.json<{ code: string, detail: string, errors: unknown }>()
  t.equal(body.code, 'validation_failed', `${name}: code`)
  t.same(body.errors, [{ path, message }], `${name}: errors`)
  t.equal(body.detail, `${path}: ${message}`, `${name}: detail`)
}

t.test('registration refuses common passwords and passwords made of the account\'s names; nothing is stored', async (t) => {
  const { app } = await buildApp(t)
  const account = { email: ' Alice.Liddell@Example.com ', username: 'Dinah42' }
  const cases: Array<[string, string, string]> = [
    ['"password"', 'password', COMMON],
    ['"12345678"', '12345678', COMMON],
    ['any case', 'PassWord', COMMON],
    ['NFKC: full-width letters are the ASCII ones', 'ｐａｓｓｗｏｒｄ', COMMON],
    ['the username, any case', 'my cat is dinah42!', USERNAME],
    ['the email\'s local part', 'alice.liddell forever', EMAIL],
    ['the whole email', 'alice.liddell@example.com', EMAIL]
  ]
  for (const [name, password, message] of cases) {
    const response = await app.inject({ method: 'POST', url: REGISTER, payload: { ...account, password } })
    refused(t, response, '/password', message, name)
  }
  t.same(await app.db.selectFrom('users').select('id').execute(), [], 'no account was created')
  t.same(await app.db.selectFrom('sessions').select('id').execute(), [], 'no session was started')

  const accepted = await app.inject({ method: 'POST', url: REGISTER, payload: { ...account, password: 'correct horse battery' } })
  t.equal(accepted.statusCode, 201, 'the same account with a good password is created')
  // A one- or two-letter local part is not looked for: "al" may appear inside a password.
  const short = await app.inject({ method: 'POST', url: REGISTER, payload: { email: 'al@example.com', username: 'wonder', password: 'totally legal password' } })
  t.equal(short.statusCode, 201, 'a very short local part only refuses itself')
})

t.test('PASSWORD_MIN_LENGTH raises the minimum length, counted in characters after NFKC', async (t) => {
  const { app } = await buildApp(t, { env: { PASSWORD_MIN_LENGTH: '12' } })
  const elevenChars = await app.inject({ method: 'POST', url: REGISTER, payload: { email: 'bill@example.com', username: 'lizard', password: 'rock garden' } })
  refused(t, elevenChars, '/password', 'must be at least 12 characters', '11 characters')
  const twelve = await app.inject({ method: 'POST', url: REGISTER, payload: { email: 'bill@example.com', username: 'lizard', password: 'rock gardens' } })
  t.equal(twelve.statusCode, 201, '12 characters are enough')

  // Twelve conjoining jamo (ㄱ+ㅏ ...) are six Hangul syllables once normalised: what is hashed is six characters.
  const jamo = '\u1100\u1161'.repeat(6)
  const composed = await app.inject({ method: 'POST', url: REGISTER, payload: { email: 'jamo@example.com', username: 'jamo', password: jamo } })
  refused(t, composed, '/password', 'must be at least 12 characters', 'jamo')
  t.same((await app.db.selectFrom('users').select('username').execute()).map((row) => row.username), ['lizard'])
})

t.test('a password change refuses the same passwords and changes nothing', async (t) => {
  const { app } = await buildApp(t)
  const account = await registerAccount(app, { email: 'march.hare@example.com', username: 'Hatter99' })
  const url = '/api/v1/users/me/password'
  const second = await app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { login: account.email, password: account.password } })
  t.equal(second.statusCode, 200, 'a second session')
  const before = {
    user: await app.db.selectFrom('users').selectAll().where('id', '=', account.id).executeTakeFirstOrThrow(),
    sessions: await app.db.selectFrom('sessions').selectAll().where('user_id', '=', account.id).orderBy('id').execute()
  }

  const cases: Array<[string, string, string]> = [
    ['"password"', 'password', COMMON],
    ['"12345678"', '12345678', COMMON],
    ['the username', `I am ${account.username.toUpperCase()}`, USERNAME],
    ['the email\'s local part, any case', 'March.Hare and tea', EMAIL],
    ['the email', 'mail me at march.hare@example.com', EMAIL]
  ]
  for (const [name, password, message] of cases) {
    const response = await app.inject({ method: 'PUT', url, headers: bearer(account.accessToken), payload: { current_password: account.password, new_password: password } })
    refused(t, response, '/new_password', message, name)
  }
  const wrongToo = await app.inject({ method: 'PUT', url, headers: bearer(account.accessToken), payload: { current_password: 'not the password', new_password: 'password' } })
  refused(t, wrongToo, '/new_password', COMMON, 'a refused new password is answered before the current one is checked')

  t.same(await app.db.selectFrom('users').selectAll().where('id', '=', account.id).executeTakeFirstOrThrow(), before.user, 'the account is unchanged')
  t.same(await app.db.selectFrom('sessions').selectAll().where('user_id', '=', account.id).orderBy('id').execute(), before.sessions, 'no session ended')
  const login = await app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { login: account.email, password: account.password } })
  t.equal(login.statusCode, 200, 'the old password still works')
})

t.test('existing accounts are not locked out by the policy: signing in never checks it', async (t) => {
  const { app, database } = await buildApp(t)
  // Made before the policy (or by hand): a common password, stored as any other.
  const weak = newUserRow({ email: 'legacy@example.com', username: 'legacy' }, await app.passwords.hash('password'))
  await app.db.insertInto('users').values(weak).execute()
  const legacy = await app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { login: 'legacy', password: 'password' } })
  t.equal(legacy.statusCode, 200, 'JSON login with a common password')
  const grant = await app.inject({ method: 'POST', url: '/api/v1/auth/token', payload: { grant_type: 'password', username: 'legacy@example.com', password: 'password' } })
  t.equal(grant.statusCode, 200, 'password grant with a common password')

  // An account registered under the default minimum, on an instance that now asks for more.
  const account = await registerAccount(app)
  const { app: stricter } = await buildApp(t, { database, env: { PASSWORD_MIN_LENGTH: '32' } })
  const login = await stricter.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { login: account.username, password: account.password } })
  t.equal(login.statusCode, 200, 'a password shorter than the new minimum still signs in')
  const deleted = await stricter.inject({ method: 'DELETE', url: '/api/v1/users/me', headers: bearer(account.accessToken), payload: { password: account.password } })
  t.equal(deleted.statusCode, 204, 'and still confirms the account\'s own operations')
})

t.test('create-admin applies the same policy, before it opens the database', async (t) => {
  // A database that does not exist: opening it would create the directory (PGlite) or fail with exit 1 (PostgreSQL).
  const dataDir = join(t.testdir(), 'never-created')
  const env: Record<string, string> = testDatabaseKind() === 'pglite' ? { DATA_DIR: dataDir } : { DATABASE_URL: databaseUrl(`us_test_${process.pid}_never_created`) }
  const argv = ['create-admin', '--email', 'erin.ops@example.com', '--username', 'erin_admin']
  const cases: Array<[string, Record<string, string>, string]> = [
    ['"password"', { ADMIN_PASSWORD: 'password' }, COMMON],
    ['"12345678"', { ADMIN_PASSWORD: '12345678' }, COMMON],
    ['the username', { ADMIN_PASSWORD: 'Erin_Admin rules' }, USERNAME],
    ['the email\'s local part', { ADMIN_PASSWORD: 'i am erin.ops' }, EMAIL],
    ['PASSWORD_MIN_LENGTH', { ADMIN_PASSWORD: 'correct horse battery', PASSWORD_MIN_LENGTH: '24' }, 'must be at least 24 characters']
  ]
  for (const [name, extra, message] of cases) {
    const result = await cli(argv, { ...env, ...extra })
    t.equal(result.code, 2, `${name}: exit code 2 (bad input)`)
    t.equal(result.stderr, `user-service: invalid password: ${message}\n`, `${name}: message`)
    t.equal(result.stdout, '', `${name}: nothing on stdout`)
  }
  t.notOk(await access(dataDir).then(() => true, () => false), 'the database was not opened')
})

t.test('the OpenAPI document states the rule on every new password', async (t) => {
  const { app } = await buildApp(t)
  const doc = (await app.inject({ method: 'GET', url: '/openapi.json' })).json<{ paths: Record<string, Record<string, { requestBody: { content: Record<string, { schema: { properties: Record<string, { description?: string, minLength?: number, maxLength?: number }> } }> } }>> }>()
  const fields = {
    'register password': doc.paths['/api/v1/auth/register']?.post?.requestBody.content['application/json']?.schema.properties.password,
    'password change new_password': doc.paths['/api/v1/users/me/password']?.put?.requestBody.content['application/json']?.schema.properties.new_password
  }
  for (const [name, field] of Object.entries(fields)) {
    t.match(field, { minLength: 8, maxLength: 128 }, `${name}: bounds`)
    for (const rule of [/PASSWORD_MIN_LENGTH/, /NFKC/, /most common passwords/, /username/, /before the @/, /validation_failed/]) {
      t.match(field?.description, rule, `${name}: ${String(rule)}`)
    }
  }
})

t.test('lengths are characters: code points of the NFKC form', async (t) => {
  const policy = new PasswordPolicy()
  const owner = { email: 'alice@example.com', username: 'alice' }
  t.equal(policy.refusal('correct horse battery staple', owner), null)
  t.equal(policy.refusal('🔑'.repeat(8), owner), null, 'eight characters outside the BMP are eight characters')
  t.equal(policy.refusal('🔑'.repeat(7), owner), 'must be at least 8 characters', 'seven are too few, though they are 14 UTF-16 units')
  t.equal(policy.refusal('🔑'.repeat(128), owner), null)
  // U+FDFA is one character that NFKC spells out in 18: the normalised form is what is hashed and measured.
  t.equal(policy.refusal('\uFDFA'.repeat(8), owner), 'must be at most 128 characters')
})
