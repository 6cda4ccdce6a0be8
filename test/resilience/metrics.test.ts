import t from 'tap'
import { buildApp, registerAccount, testDatabaseKind } from '../helper.js'

/** The value of one sample line (`name{labels} value`) of a Prometheus text exposition. */
function sample (text: string, line: RegExp): number | undefined {
  const match = text.split('\n').find((entry) => line.test(entry))
  return match === undefined ? undefined : Number(match.split(' ').pop())
}

t.test('GET /metrics: Prometheus text with requests, logins, hashing, breaker and pool', async (t) => {
  const { app } = await buildApp(t)
  const account = await registerAccount(app)
  const login = { method: 'POST' as const, url: '/api/v1/auth/login' }
  t.equal((await app.inject({ ...login, payload: { login: account.username, password: account.password } })).statusCode, 200)
  t.equal((await app.inject({ ...login, payload: { login: account.username, password: 'wrong password' } })).statusCode, 401)
  await app.inject({ method: 'GET', url: '/api/v1/users/00000000-0000-0000-0000-000000000000' })

  const response = await app.inject({ method: 'GET', url: '/metrics' })
  t.equal(response.statusCode, 200)
  t.match(response.headers['content-type'], /^text\/plain; version=0\.0\.4/)
  const text = response.body
  t.equal(sample(text, /^auth_logins_total\{result="success"\}/), 1, 'one successful login')
  t.equal(sample(text, /^auth_logins_total\{result="failure"\}/), 1, 'one failed login')
  t.equal(sample(text, /^http_request_duration_seconds_count\{method="POST",route="\/api\/v1\/auth\/login",status_code="401"\}/), 1,
    'request durations by route pattern and status')
  t.match(text, /http_request_duration_seconds_count\{method="GET",route="\/api\/v1\/users\/:id",status_code="401"\}/, 'the route pattern, not the URL')
  t.ok((sample(text, /^password_hash_duration_seconds_count\{operation="hash"\}/) ?? 0) >= 1, 'hashing (registration)')
  t.ok((sample(text, /^password_hash_duration_seconds_count\{operation="verify"\}/) ?? 0) >= 2, 'verifying (logins)')
  t.equal(sample(text, /^db_breaker_state /), 0, 'breaker closed')
  t.ok((sample(text, /^db_breaker_events_total\{event="success"\}/) ?? 0) > 0, 'breaker events')
  t.equal(sample(text, /^db_breaker_events_total\{event="open"\}/), 0)
  t.match(text, /process_cpu_user_seconds_total/, 'process metrics')
  if (testDatabaseKind() === 'postgres') {
    t.ok((sample(text, /^db_pool_connections\{state="total"\}/) ?? 0) >= 1, 'pool: total')
    t.match(text, /db_pool_connections\{state="idle"\}/)
    t.match(text, /db_pool_connections\{state="waiting"\} 0/)
  } else {
    t.notMatch(text, /db_pool_connections/, 'no pool on PGlite')
  }
})

t.test('two apps in one process keep their own registries', async (t) => {
  const first = await buildApp(t)
  const second = await buildApp(t)
  await registerAccount(first.app)
  const text = (await second.app.inject({ method: 'GET', url: '/metrics' })).body
  t.notMatch(text, /route="\/api\/v1\/auth\/register"/, 'the second app did not see the first one\'s requests')
})

t.test('METRICS_ENABLED=false: no /metrics route', async (t) => {
  const { app } = await buildApp(t, { env: { METRICS_ENABLED: 'false' } })
  t.equal((await app.inject({ method: 'GET', url: '/metrics' })).statusCode, 404)
  t.equal(app.metrics, null)
})

t.test('/metrics is not under the API prefix and not in the OpenAPI document', async (t) => {
  const { app } = await buildApp(t)
  t.equal((await app.inject({ method: 'GET', url: '/api/v1/metrics' })).statusCode, 404)
  const spec = (await app.inject({ method: 'GET', url: '/openapi.json' })).json<{ paths: Record<string, unknown> }>()
  t.notOk('/metrics' in spec.paths)
})
