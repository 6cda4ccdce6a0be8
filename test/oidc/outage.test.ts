import { once } from 'node:events'
import type { FastifyInstance } from 'fastify'
import t, { type Test } from 'tap'
import { registerAccount } from '../helper.js'
import { startMockProvider } from './mock-provider.js'
import { authorizeUrl, buildOidcApp, finishCallback, pkce, startSignIn } from './oidc-helper.js'

/** A provider outage costs its sign-ins a fast 503, never password logins or readiness. */
/** Fails `attempts` sign-in starts against a provider that is down. */
async function failStarts (t: Test, app: FastifyInstance, attempts: number): Promise<void> {
  for (let attempt = 0; attempt < attempts; attempt++) {
    const response = await app.inject({ url: authorizeUrl(pkce().challenge) })
    t.equal(response.statusCode, 503, `attempt ${attempt + 1}: 503`)
    t.match(response.json(), { code: 'service_unavailable', detail: /identity provider "mock" is unavailable/ })
    t.ok(Number(response.headers['retry-after']) >= 1, 'with Retry-After')
  }
}

t.test('provider down: 503 with Retry-After, then the open breaker answers at once; nothing else is affected', async (t) => {
  const provider = await startMockProvider()
  t.teardown(() => provider.close())
  // Open for the whole test: what is asserted while open must not race the reset timer.
  const { app } = await buildOidcApp(t, provider, { env: { OIDC_BREAKER_RESET_MS: '600000' } })
  await provider.down()
  await failStarts(t, app, 3)
  t.equal(app.oidc.provider('mock').state, 'open', 'three failures open the breaker')
  const requestsBefore = provider.requests.length
  const fast = await app.inject({ url: authorizeUrl(pkce().challenge) })
  t.equal(fast.statusCode, 503)
  t.match(fast.json<{ detail: string }>().detail, /circuit breaker open/)
  t.ok(Number(fast.headers['retry-after']) > 500, 'Retry-After: until the breaker lets a probe through')
  t.equal(provider.requests.length, requestsBefore, 'while open, the provider is not called at all')
  const callback = new URL('http://user-service.test/api/v1/auth/oidc/mock/callback?state=x&code=y')
  t.equal((await finishCallback(app, callback)).response.statusCode, 503, 'the callback too')

  t.equal((await app.inject({ url: '/ready' })).statusCode, 200, '/ready stays 200: the outage is not ours')
  const account = await registerAccount(app)
  const login = await app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { login: account.username, password: account.password } })
  t.equal(login.statusCode, 200, 'password logins go on')
  t.match((await app.inject({ url: '/metrics' })).body, /oidc_breaker_state\{provider="mock"\} 2/)
})

t.test('after the reset time one call probes the provider; its success closes the breaker', async (t) => {
  const provider = await startMockProvider()
  t.teardown(() => provider.close())
  const { app } = await buildOidcApp(t, provider, { env: { OIDC_BREAKER_RESET_MS: '300' } })
  const halfOpen = once(app.oidc.provider('mock').breaker, 'halfOpen')
  await provider.down()
  await failStarts(t, app, 3)
  await provider.up()
  await halfOpen
  const back = await app.inject({ url: authorizeUrl(pkce().challenge) })
  t.equal(back.statusCode, 302, 'the provider is back: the probe succeeds')
  t.equal(app.oidc.provider('mock').state, 'closed')
  t.match((await app.inject({ url: '/metrics' })).body, /oidc_breaker_state\{provider="mock"\} 0/)
})

t.test('cached discovery keeps sign-ins starting while the provider is unreachable; the exchange then fails softly', async (t) => {
  const provider = await startMockProvider()
  t.teardown(() => provider.close())
  provider.identity = { sub: 'gina', email: 'gina@example.com', email_verified: true }
  const { app } = await buildOidcApp(t, provider)
  t.equal((await app.inject({ url: authorizeUrl(pkce().challenge) })).statusCode, 302, 'discovery fetched and cached')
  const discoveries = provider.requests.filter((request) => request.includes('openid-configuration')).length

  const { callback } = await startSignIn(app, provider)
  await provider.down()
  t.equal((await app.inject({ url: authorizeUrl(pkce().challenge) })).statusCode, 302, 'authorize works from the cached discovery')
  t.equal(provider.requests.filter((request) => request.includes('openid-configuration')).length, discoveries, 'no discovery request')

  const { response, frontEnd } = await finishCallback(app, callback)
  t.equal(response.statusCode, 302)
  t.equal(frontEnd?.searchParams.get('error'), 'temporarily_unavailable', 'the token endpoint is down: the front end is told to try later')
  const event = await app.db.selectFrom('audit_events').select('details').where('action', '=', 'external_login').executeTakeFirstOrThrow()
  t.match(event.details, { reason: 'provider_unavailable' })
})

t.test('a provider that does not answer costs OIDC_TIMEOUT_MS, not a hung request', async (t) => {
  const provider = await startMockProvider()
  t.teardown(() => provider.close())
  const { app } = await buildOidcApp(t, provider, { env: { OIDC_TIMEOUT_MS: '300' } })
  provider.hang()
  t.teardown(() => { provider.release() })
  const response = await app.inject({ url: authorizeUrl(pkce().challenge) })
  t.equal(response.statusCode, 503)
  t.match(response.json<{ detail: string }>().detail, /no answer within 300 ms/)
})
