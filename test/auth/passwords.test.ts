import argon2 from 'argon2'
import t, { type Test } from 'tap'
import { PasswordHasher } from '../../src/auth/passwords.js'
import { buildApp, registerAccount } from '../helper.js'

const today = { memoryKib: 19456, timeCost: 2, parallelism: 1 }

/** Counts argon2 verifications from now to the end of the test. */
function countVerifications (t: Test): () => number {
  const verify = argon2.verify
  let calls = 0
  argon2.verify = async (...args) => { calls += 1; return verify(...args) }
  t.teardown(() => { argon2.verify = verify })
  return () => calls
}

t.test('hashes are argon2id at the configured parameters', async (t) => {
  const hash = await new PasswordHasher(today).hash('correct horse battery')
  t.match(hash, /^\$argon2id\$v=19\$m=19456,t=2,p=1\$|^\$argon2id\$v=19\$m=19456,p=1,t=2\$/)
  t.ok(await argon2.verify(hash, 'correct horse battery'))
})

t.test('needsRehash: weaker parameters or another algorithm, never a stronger hash', async (t) => {
  const hasher = new PasswordHasher(today)
  const weak = await argon2.hash('pw', { type: argon2.argon2id, memoryCost: 4096, timeCost: 1, parallelism: 1 })
  const stronger = await argon2.hash('pw', { type: argon2.argon2id, memoryCost: 32768, timeCost: 3, parallelism: 1 })
  const argon2i = await argon2.hash('pw', { type: argon2.argon2i, memoryCost: 19456, timeCost: 2, parallelism: 1 })
  t.equal(hasher.needsRehash(weak), true)
  t.equal(hasher.needsRehash(argon2i), true)
  t.equal(hasher.needsRehash('$2b$10$abcdefghijklmnopqrstuv'), true, 'bcrypt')
  t.equal(hasher.needsRehash(stronger), false)
  t.equal(hasher.needsRehash(await hasher.hash('pw')), false)
})

t.test('a corrupt stored hash is a failed verification, not an exception', async (t) => {
  const result = await new PasswordHasher(today).verifyOrDummy('$argon2id$garbage', 'pw')
  t.same(result, { ok: false, needsRehash: false })
})

t.test('a hash with weaker parameters is upgraded on the next successful login', async (t) => {
  const { app } = await buildApp(t)
  const account = await registerAccount(app)
  const weak = await argon2.hash(account.password, { type: argon2.argon2id, memoryCost: 4096, timeCost: 1, parallelism: 1 })
  await app.db.updateTable('users').set({ hashed_password: weak }).where('id', '=', account.id).execute()

  const failed = await app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { login: account.email, password: 'wrong password' } })
  t.equal(failed.statusCode, 401)
  const untouched = await app.db.selectFrom('users').select('hashed_password').where('id', '=', account.id).executeTakeFirstOrThrow()
  t.equal(untouched.hashed_password, weak, 'a failed login does not re-hash')

  const login = await app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { login: account.email, password: account.password } })
  t.equal(login.statusCode, 200)
  const row = await app.db.selectFrom('users').select('hashed_password').where('id', '=', account.id).executeTakeFirstOrThrow()
  t.not(row.hashed_password, weak)
  t.match(row.hashed_password, /^\$argon2id\$v=19\$m=19456,/)
  t.ok(await argon2.verify(row.hashed_password ?? '', account.password), 'still the same password')
})

t.test('an unknown login costs one argon2 verification, like a wrong password, and gets the same answer', async (t) => {
  const { app } = await buildApp(t)
  const account = await registerAccount(app)
  const calls = countVerifications(t)

  const wrongPassword = await app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { login: account.email, password: 'wrong password' } })
  const wrongCount = calls()
  const unknownUser = await app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { login: 'nobody@example.com', password: 'wrong password' } })
  const unknownCount = calls() - wrongCount

  t.equal(wrongCount, 1)
  t.equal(unknownCount, 1, 'the unknown login ran a dummy verification')
  t.equal(unknownUser.statusCode, wrongPassword.statusCode)
  t.equal(unknownUser.json().detail, wrongPassword.json().detail)
  t.equal(unknownUser.json().code, 'invalid_credentials')
})

t.test('passwords are compared in NFKC: compatibility forms of one password are the same password', async (t) => {
  const { app } = await buildApp(t)
  // "ﬁ" (U+FB01) and full-width digits normalise to "fi" and ASCII digits; "é" composed or not.
  const typed = 'ﬁne ｐａｓｓｗｏｒｄ １２３ café'
  const normalized = typed.normalize('NFKC')
  t.equal(normalized, 'fine password 123 café')
  const account = await registerAccount(app, { password: typed })
  const stored = await app.db.selectFrom('users').select('hashed_password').where('id', '=', account.id).executeTakeFirstOrThrow()
  t.ok(await argon2.verify(stored.hashed_password ?? '', normalized), 'the hash is of the NFKC form')
  for (const login of [typed, normalized, normalized.replace('é', 'e\u0301')]) {
    const response = await app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { login: account.username, password: login } })
    t.equal(response.statusCode, 200, `signs in with ${JSON.stringify(login)}`)
  }
  const other = await app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { login: account.username, password: 'fine password 124 café' } })
  t.equal(other.statusCode, 401, 'a different password is still refused')
})

t.test('a hash made before passwords were normalised still signs in, and is re-hashed in NFKC', async (t) => {
  const { app } = await buildApp(t)
  const account = await registerAccount(app)
  const typed = 'ｌｅｇａｃｙ password'
  const legacy = await argon2.hash(typed, { type: argon2.argon2id, memoryCost: 19456, timeCost: 2, parallelism: 1 })
  await app.db.updateTable('users').set({ hashed_password: legacy }).where('id', '=', account.id).execute()

  const login = await app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { login: account.username, password: typed } })
  t.equal(login.statusCode, 200)
  const row = await app.db.selectFrom('users').select('hashed_password').where('id', '=', account.id).executeTakeFirstOrThrow()
  t.not(row.hashed_password, legacy, 're-hashed')
  t.ok(await argon2.verify(row.hashed_password ?? '', 'legacy password'), 'now the hash of the NFKC form')
})

t.test('a password that NFKC changes costs the same for an unknown login as for a wrong password', async (t) => {
  const { app } = await buildApp(t)
  const account = await registerAccount(app)
  const calls = countVerifications(t)
  const password = 'ｗｒｏｎｇ password'
  await app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { login: account.email, password } })
  const wrongCount = calls()
  await app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { login: 'nobody@example.com', password } })
  t.equal(wrongCount, 2, 'the NFKC form and the form as typed')
  t.equal(calls() - wrongCount, wrongCount, 'the unknown login ran as many dummy verifications')
})
