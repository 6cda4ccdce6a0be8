import t from 'tap'
import { OidcProvider, ProviderUnavailableError } from '../../src/auth/oidc/provider.js'
import { startMockProvider } from './mock-provider.js'
import { buildOidcApp, signIn } from './oidc-helper.js'

const MINUTE = 60_000

/**
 * Discovery and the provider's keys are cached, and served from the cache while the provider
 * cannot be reached, for a short window: the seed's "fallback to cached tokens".
 */
t.test('discovery is fresh for 5 minutes, then served stale up to an hour while the provider is down', async (t) => {
  const provider = await startMockProvider()
  t.teardown(() => provider.close())
  let now = Date.now()
  const warnings: Array<Record<string, unknown>> = []
  const client = new OidcProvider({ name: 'mock', issuer: provider.issuer, clientId: provider.clientId, clientSecret: provider.clientSecret, scopes: 'openid email' }, {
    timeoutMs: 2000, breakerResetMs: 600_000, allowHttp: true, clock: () => now, log: { info: () => {}, warn: (object) => { warnings.push(object) } }
  })
  t.teardown(() => { client.shutdown() })
  const checks = { state: 's', nonce: 'n', codeVerifier: 'v'.repeat(43) }
  const discoveries = (): number => provider.requests.filter((request) => request.endsWith('/.well-known/openid-configuration')).length

  await client.authorizationUrl('http://user-service.test/cb', checks)
  now += 4 * MINUTE
  await client.authorizationUrl('http://user-service.test/cb', checks)
  t.equal(discoveries(), 1, 'fresh: asked once')
  now += 2 * MINUTE
  await client.authorizationUrl('http://user-service.test/cb', checks)
  t.equal(discoveries(), 2, 'after 5 minutes: asked again')

  provider.failing.add('/.well-known/openid-configuration')
  now += 50 * MINUTE
  const url = await client.authorizationUrl('http://user-service.test/cb', checks)
  t.equal(url.origin, provider.issuer, 'the provider cannot answer: the copy of 50 minutes ago is used')
  t.match(warnings, [{ event: 'oidc_discovery_stale', provider: 'mock', reason: /503/ }])
  now += 11 * MINUTE
  const refused = await client.authorizationUrl('http://user-service.test/cb', checks).catch((error: unknown) => error)
  t.ok(refused instanceof ProviderUnavailableError, 'older than an hour: the sign-in waits for the provider')
  t.match(refused, { status: 503, message: /identity provider "mock" is unavailable \(HTTP 503\)/ })
})

t.test('the provider\'s keys are cached: a sign-in verifies its ID token while the JWKS endpoint is down', async (t) => {
  const provider = await startMockProvider()
  t.teardown(() => provider.close())
  provider.identity = { sub: 'ivan', email: 'ivan@example.com', email_verified: true }
  const { app } = await buildOidcApp(t, provider)
  await signIn(app, provider)
  t.equal(provider.requests.filter((request) => request === 'GET /jwks').length, 1, 'the keys, fetched once')
  provider.failing.add('/jwks')
  await signIn(app, provider)
  t.equal(provider.requests.filter((request) => request === 'GET /jwks').length, 1, 'not fetched again')
  t.equal(app.oidc.provider('mock').state, 'closed')
})
