import t from 'tap'
import { migrations } from '../../migrations/index.js'
import { migrateToLatest } from '../../src/db/migrator.js'
import { buildApp, createTestDatabase } from '../helper.js'

t.test('/health and /ready on a healthy service', async (t) => {
  const { app } = await buildApp(t)
  const health = await app.inject({ method: 'GET', url: '/health' })
  t.equal(health.statusCode, 200)
  t.same(health.json(), { status: 'ok' })
  const ready = await app.inject({ method: 'GET', url: '/ready' })
  t.equal(ready.statusCode, 200)
  t.same(ready.json(), { status: 'ready', checks: { database: 'ok', migrations: 'ok' } })
  t.equal(ready.headers['cache-control'], 'no-store')
})

t.test('pending migrations without auto-migrate: starts, /ready says so with 503, routes answer 503', async (t) => {
  const database = await createTestDatabase({ migrated: false })
  t.teardown(database.drop)
  const { app } = await buildApp(t, { database, env: { MIGRATE_ON_START: 'false' } })

  const ready = await app.inject({ method: 'GET', url: '/ready' })
  t.equal(ready.statusCode, 503)
  t.equal(ready.json().status, 'unavailable')
  t.equal(ready.json().checks.migrations, 'pending')
  t.same(ready.json().pending_migrations, Object.keys(migrations))
  t.match(ready.json().reason, /migrate up/)
  t.equal((await app.inject({ method: 'GET', url: '/health' })).statusCode, 200, 'liveness does not depend on the schema')

  const login = await app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { login: 'a@example.com', password: 'whatever pw' } })
  t.equal(login.statusCode, 503)
  t.equal(login.json().code, 'service_unavailable')
  const header = Buffer.from(JSON.stringify({ alg: 'RS256', typ: 'at+jwt', kid: 'k' })).toString('base64url')
  const me = await app.inject({ method: 'GET', url: '/api/v1/users/me', headers: { authorization: `Bearer ${header}.e30.c2ln` } })
  t.equal(me.statusCode, 503, 'a bearer request is not blamed on the token')

  await migrateToLatest(database.handle.db)
  t.equal((await app.inject({ method: 'GET', url: '/ready' })).statusCode, 200, 'ready once migrated, without a restart')
  const register = await app.inject({ method: 'POST', url: '/api/v1/auth/register', payload: { email: 'late@example.com', username: 'late', password: 'correct horse battery' } })
  t.equal(register.statusCode, 201, 'and serving')
})

t.test('MIGRATE_ON_START=true migrates an empty database at start', async (t) => {
  const database = await createTestDatabase({ migrated: false })
  t.teardown(database.drop)
  const { app } = await buildApp(t, { database, env: { MIGRATE_ON_START: 'true' } })
  t.equal((await app.inject({ method: 'GET', url: '/ready' })).statusCode, 200)
})

t.test('database unreachable: /ready 503, /health still 200', async (t) => {
  const { app, database } = await buildApp(t)
  await database.handle.db.destroy()
  const ready = await app.inject({ method: 'GET', url: '/ready' })
  t.equal(ready.statusCode, 503)
  t.same(ready.json().checks, { database: 'unreachable', migrations: 'unknown' })
  t.equal((await app.inject({ method: 'GET', url: '/health' })).statusCode, 200)
})
