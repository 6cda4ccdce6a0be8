import argon2 from 'argon2'
import t from 'tap'
import { PasswordHasher } from '../../src/auth/passwords.js'
import { buildApp, registerAccount } from '../helper.js'

const today = { memoryKib: 19456, timeCost: 2, parallelism: 1 }

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
  const verify = argon2.verify
  let calls = 0
  argon2.verify = async (...args) => { calls += 1; return verify(...args) }
  t.teardown(() => { argon2.verify = verify })

  const wrongPassword = await app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { login: account.email, password: 'wrong password' } })
  const wrongCount = calls
  const unknownUser = await app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { login: 'nobody@example.com', password: 'wrong password' } })
  const unknownCount = calls - wrongCount

  t.equal(wrongCount, 1)
  t.equal(unknownCount, 1, 'the unknown login ran a dummy verification')
  t.equal(unknownUser.statusCode, wrongPassword.statusCode)
  t.equal(unknownUser.json().detail, wrongPassword.json().detail)
  t.equal(unknownUser.json().code, 'invalid_credentials')
})
