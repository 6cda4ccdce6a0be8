import * as client from 'openid-client'
import t, { type Test } from 'tap'
import { startMockProvider, type IdTokenDefect, type MockProvider } from './mock-provider.js'

/**
 * The mock provider, driven by openid-client exactly as a relying party uses it: if these pass,
 * what the service's own tests see of the provider is what a real provider would show it.
 */
const CALLBACK = 'https://rp.example.test/oidc/callback'

interface DiscoverOptions { secret?: string, basic?: boolean, nonRepudiation?: boolean }

async function discover (provider: MockProvider, options: DiscoverOptions = {}): Promise<client.Configuration> {
  const secret = options.secret ?? provider.clientSecret
  return client.discovery(new URL(provider.issuer), provider.clientId, secret, options.basic === true ? client.ClientSecretBasic(secret) : undefined, {
    // http is refused outside loopback tests; without non-repudiation no signature is checked (see below).
    execute: options.nonRepudiation === false ? [client.allowInsecureRequests] : [client.allowInsecureRequests, client.enableNonRepudiationChecks]
  })
}

interface Flow {
  callback: URL
  checks: { pkceCodeVerifier: string, expectedState: string, expectedNonce: string, idTokenExpected: true }
}

/** The browser's half: our authorization URL, through the provider, back at our callback. */
async function begin (config: client.Configuration, provider: MockProvider): Promise<Flow> {
  const checks = { pkceCodeVerifier: client.randomPKCECodeVerifier(), expectedState: client.randomState(), expectedNonce: client.randomNonce(), idTokenExpected: true as const }
  const url = client.buildAuthorizationUrl(config, {
    redirect_uri: CALLBACK,
    scope: 'openid email profile',
    code_challenge: await client.calculatePKCECodeChallenge(checks.pkceCodeVerifier),
    code_challenge_method: 'S256',
    state: checks.expectedState,
    nonce: checks.expectedNonce
  })
  return { callback: await provider.authorize(url.href), checks }
}

async function rejection (promise: Promise<unknown>): Promise<Error> {
  try {
    await promise
  } catch (error) {
    if (error instanceof Error) return error
    throw error
  }
  throw new Error('resolved, but a rejection was expected')
}

async function started (t: Test): Promise<MockProvider> {
  const provider = await startMockProvider()
  t.teardown(() => provider.close())
  return provider
}

t.test('openid-client signs in: discovery, PKCE, a verified ID token with the identity, userinfo; JWKS cached', async (t) => {
  const provider = await started(t)
  provider.identity = { sub: 'auth0|alice', email: 'alice@example.com', email_verified: true, name: 'Alice Liddell', preferred_username: 'alice' }
  const config = await discover(provider)
  t.equal(config.serverMetadata().issuer, provider.issuer)
  t.equal(new URL(provider.issuer).hostname, '127.0.0.1')
  t.equal(provider.clientId, 'user-service-test')
  t.match(provider.clientSecret, /^[\w-]{43}$/, '32 random bytes, base64url')

  const { callback, checks } = await begin(config, provider)
  t.equal(callback.origin + callback.pathname, CALLBACK)
  t.equal(callback.searchParams.get('state'), checks.expectedState)
  t.ok(callback.searchParams.get('code'))
  const tokens = await client.authorizationCodeGrant(config, callback, checks)
  t.match(tokens, { token_type: /^bearer$/i, scope: 'openid email profile', expires_in: Number })
  const claims = tokens.claims()
  t.match(claims, { ...provider.identity, iss: provider.issuer, aud: provider.clientId, nonce: checks.expectedNonce })
  t.equal((claims?.exp ?? 0) - (claims?.iat ?? 0), 300, 'valid for 5 minutes')
  t.same(await client.fetchUserInfo(config, tokens.access_token, 'auth0|alice'), provider.identity)

  provider.identity = { sub: 'bob' }
  const again = await begin(config, provider)
  const bob = (await client.authorizationCodeGrant(config, again.callback, again.checks)).claims()
  t.equal(bob?.sub, 'bob')
  t.notOk(bob !== undefined && 'email' in bob, 'only the claims the identity has')
  t.same(provider.requests, [
    'GET /.well-known/openid-configuration', 'GET /authorize', 'POST /token', 'GET /jwks', 'GET /userinfo',
    'GET /authorize', 'POST /token'
  ], 'the keys are fetched once per configuration')
})

t.test('client_secret_basic: id and secret are form-urlencoded before base64 (RFC 6749 §2.3.1)', async (t) => {
  const provider = await startMockProvider({ clientId: 'rp:1 é', clientSecret: 'a secret: with+/%~ and spaces' })
  t.teardown(() => provider.close())
  const config = await discover(provider, { basic: true })
  const { callback, checks } = await begin(config, provider)
  t.equal((await client.authorizationCodeGrant(config, callback, checks)).claims()?.aud, 'rp:1 é')

  const raw = await fetch(`${provider.issuer}/token`, {
    method: 'POST',
    headers: { authorization: `Basic ${Buffer.from(`${provider.clientId}:${provider.clientSecret}`).toString('base64')}` },
    body: new URLSearchParams({ grant_type: 'authorization_code', code: 'x' })
  })
  t.equal(raw.status, 401, 'the same credentials, not encoded: refused')
  t.equal(raw.headers.get('www-authenticate'), 'Basic realm="mock"')
  t.same(await raw.json(), { error: 'invalid_client' })

  const password = await fetch(`${provider.issuer}/token`, {
    method: 'POST',
    body: new URLSearchParams({ grant_type: 'password', client_id: provider.clientId, client_secret: provider.clientSecret })
  })
  t.equal(password.status, 400, 'client_secret_post authenticates; only the code grant is served')
  t.same(await password.json(), { error: 'unsupported_grant_type' })
})

/** What openid-client 6.9 throws for each defect: the outer error is generic, the cause says which check failed. */
const REFUSALS: Record<IdTokenDefect, { code: string, message: string, cause: RegExp }> = {
  bad_signature: { code: 'OAUTH_INVALID_RESPONSE', message: 'invalid response encountered', cause: /^JWT signature verification failed$/ },
  wrong_nonce: { code: 'OAUTH_JWT_CLAIM_COMPARISON_FAILED', message: 'unexpected JWT claim value encountered', cause: /^unexpected ID Token "nonce" claim value$/ },
  wrong_audience: { code: 'OAUTH_JWT_CLAIM_COMPARISON_FAILED', message: 'unexpected JWT claim value encountered', cause: /^unexpected JWT "aud" \(audience\) claim value$/ },
  wrong_issuer: { code: 'OAUTH_JWT_CLAIM_COMPARISON_FAILED', message: 'unexpected JWT claim value encountered', cause: /^unexpected JWT "iss" \(issuer\) claim value$/ },
  expired: { code: 'OAUTH_JWT_TIMESTAMP_CHECK_FAILED', message: 'JWT timestamp claim value failed validation', cause: /^unexpected JWT "exp" \(expiration time\) claim value, expiration is past current timestamp$/ },
  missing: { code: 'OAUTH_INVALID_RESPONSE', message: 'invalid response encountered', cause: /^"response" body "id_token" property must be a string$/ }
}

for (const [defect, refusal] of Object.entries(REFUSALS) as Array<[IdTokenDefect, typeof REFUSALS[IdTokenDefect]]>) {
  t.test(`an ID token with defect ${defect} is refused`, async (t) => {
    const provider = await started(t)
    const config = await discover(provider)
    provider.idTokenDefect = defect
    const { callback, checks } = await begin(config, provider)
    const error = await rejection(client.authorizationCodeGrant(config, callback, checks))
    t.ok(error instanceof client.ClientError)
    t.match(error, { name: 'ClientError', code: refusal.code, message: refusal.message, cause: { name: 'OperationProcessingError', code: refusal.code, message: refusal.cause } })
  })
}

t.test('a bad signature is only caught with enableNonRepudiationChecks: without it the keys are never fetched', async (t) => {
  const provider = await started(t)
  provider.idTokenDefect = 'bad_signature'
  const config = await discover(provider, { nonRepudiation: false })
  const { callback, checks } = await begin(config, provider)
  const tokens = await client.authorizationCodeGrant(config, callback, checks)
  t.equal(tokens.claims()?.sub, provider.identity.sub, 'the forged token is accepted')
  t.notOk(provider.requests.includes('GET /jwks'))
})

t.test('a wrong client secret is refused with a Basic challenge, and leaves the code unspent', async (t) => {
  const provider = await started(t)
  const wrong = await discover(provider, { secret: 'not-the-secret' })
  const { callback, checks } = await begin(wrong, provider)
  const error = await rejection(client.authorizationCodeGrant(wrong, callback, checks))
  t.ok(error instanceof client.WWWAuthenticateChallengeError, 'the challenge wins over the invalid_client body')
  t.match(error, { code: 'OAUTH_WWW_AUTHENTICATE_CHALLENGE', status: 401, cause: [{ scheme: 'basic', parameters: { realm: 'mock' } }] })
  t.same(await (error as client.WWWAuthenticateChallengeError).response.json(), { error: 'invalid_client' }, 'the body is still there to read')
  const basic = await rejection(client.authorizationCodeGrant(await discover(provider, { secret: 'not-the-secret', basic: true }), callback, checks))
  t.match(basic, { code: 'OAUTH_WWW_AUTHENTICATE_CHALLENGE', status: 401 }, 'client_secret_basic alike')
  const tokens = await client.authorizationCodeGrant(await discover(provider), callback, checks)
  t.equal(tokens.claims()?.sub, provider.identity.sub)
})

t.test('a code is single-use, bound to its redirect_uri and its PKCE challenge', async (t) => {
  const provider = await started(t)
  const config = await discover(provider)
  const invalidGrant = { name: 'ResponseBodyError', code: 'OAUTH_RESPONSE_BODY_ERROR', status: 400, error: 'invalid_grant' }

  const first = await begin(config, provider)
  await client.authorizationCodeGrant(config, first.callback, first.checks)
  const reused = await rejection(client.authorizationCodeGrant(config, first.callback, first.checks))
  t.ok(reused instanceof client.ResponseBodyError)
  t.match(reused, { ...invalidGrant, message: 'server responded with an error in the response body' }, 'reused')

  const second = await begin(config, provider)
  const verifier = client.randomPKCECodeVerifier()
  t.match(await rejection(client.authorizationCodeGrant(config, second.callback, { ...second.checks, pkceCodeVerifier: verifier })), invalidGrant, 'another verifier')
  t.match(await rejection(client.authorizationCodeGrant(config, second.callback, second.checks)), invalidGrant, 'spent by the failed attempt')

  // openid-client sends as redirect_uri the callback URL without its query: where the browser landed.
  const third = await begin(config, provider)
  const elsewhere = new URL(third.callback)
  elsewhere.pathname = '/other'
  t.match(await rejection(client.authorizationCodeGrant(config, elsewhere, third.checks)), invalidGrant, 'another redirect_uri')
})

t.test('denyNext: the next authorization comes back with error=access_denied, then sign-ins work again', async (t) => {
  const provider = await started(t)
  const config = await discover(provider)
  provider.denyNext = true
  const { callback, checks } = await begin(config, provider)
  t.equal(provider.denyNext, false, 'reset')
  t.equal(callback.searchParams.get('error'), 'access_denied')
  t.ok(callback.searchParams.get('error_description'))
  t.equal(callback.searchParams.get('state'), checks.expectedState)
  t.equal(callback.searchParams.get('code'), null)
  const error = await rejection(client.authorizationCodeGrant(config, callback, checks))
  t.ok(error instanceof client.AuthorizationResponseError)
  t.match(error, { code: 'OAUTH_AUTHORIZATION_RESPONSE_ERROR', error: 'access_denied', message: 'authorization response from the server is an error' })
  t.notOk(provider.requests.includes('POST /token'), 'refused before the token endpoint')
  const next = await begin(config, provider)
  t.ok(next.callback.searchParams.get('code'))
})

t.test('/authorize answers a bad request with 400 JSON, never a redirect', async (t) => {
  const provider = await started(t)
  const config = await discover(provider)
  const good = client.buildAuthorizationUrl(config, { redirect_uri: CALLBACK, scope: 'openid', state: 's', nonce: 'n', code_challenge: 'c', code_challenge_method: 'S256' })
  t.ok((await provider.authorize(good.href)).searchParams.get('code'), 'the base case is fine')
  const variants: Record<string, Record<string, string | null>> = {
    'another client': { client_id: 'intruder' },
    'no redirect_uri': { redirect_uri: null },
    'a relative redirect_uri': { redirect_uri: '/callback' },
    'response_type=token': { response_type: 'token' },
    'no state': { state: null },
    'no nonce': { nonce: null },
    'no PKCE': { code_challenge: null, code_challenge_method: null },
    'plain PKCE': { code_challenge_method: 'plain' }
  }
  for (const [label, changes] of Object.entries(variants)) {
    const url = new URL(good)
    for (const [name, value] of Object.entries(changes)) {
      if (value === null) url.searchParams.delete(name)
      else url.searchParams.set(name, value)
    }
    const response = await fetch(url, { redirect: 'manual' })
    t.equal(response.status, 400, label)
    t.match(await response.json(), { error: 'invalid_request' }, label)
    await t.rejects(provider.authorize(url.href), /authorize answered 400/, `${label}: authorize() throws`)
  }
})

t.test('userinfo refuses an unknown access token with a Bearer challenge', async (t) => {
  const provider = await started(t)
  const config = await discover(provider)
  const error = await rejection(client.fetchUserInfo(config, 'made-up', client.skipSubjectCheck))
  t.ok(error instanceof client.WWWAuthenticateChallengeError)
  t.match(error, { status: 401, cause: [{ scheme: 'bearer', parameters: { error: 'invalid_token' } }] })
})

t.test('down(): connections are refused; up(): the same issuer answers again', async (t) => {
  const provider = await started(t)
  await discover(provider)
  await provider.down()
  const error = await rejection(discover(provider))
  t.ok(error instanceof TypeError, 'undici\'s own error, not wrapped by openid-client')
  t.match(error, { message: 'fetch failed', cause: { code: 'ECONNREFUSED' } })
  await provider.down()
  await provider.up()
  await provider.up()
  t.equal((await discover(provider)).serverMetadata().issuer, provider.issuer)
})

t.test('hang() holds every request until release(): no answer, no error, no timer', async (t) => {
  const provider = await started(t)
  provider.hang()
  let settled = false
  const arrived = provider.nextRequest()
  const discovering = discover(provider).finally(() => { settled = true })
  t.equal(await arrived, 'GET /.well-known/openid-configuration')
  // A second request round trip through the provider proves the first one had time to be answered, and was not.
  const second = provider.nextRequest()
  const probe = fetch(`${provider.issuer}/jwks`)
  t.equal(await second, 'GET /jwks')
  t.equal(settled, false, 'both held')
  t.same(provider.requests, ['GET /.well-known/openid-configuration', 'GET /jwks'], 'recorded on arrival')
  provider.release()
  t.equal((await discovering).serverMetadata().issuer, provider.issuer)
  t.equal((await probe).status, 200)
  t.equal((await fetch(`${provider.issuer}/jwks`)).status, 200, 'released: answered at once')

  provider.hang()
  const third = provider.nextRequest()
  const cut = rejection(fetch(`${provider.issuer}/jwks`))
  await third
  await provider.close()
  t.match(await cut, { message: 'fetch failed' }, 'close() answers nothing it holds: the connection is cut')
})
