import t from 'tap'
import { registerAdmin } from '../admin/helpers.js'
import { bearer, buildApp, registerAccount } from '../helper.js'
import { startMockProvider } from './mock-provider.js'
import { buildOidcApp, finishCallback, FRONT_END, oidcEnv, redeem, signIn, startSignIn } from './oidc-helper.js'

/**
 * Sign-in through an external OpenID provider, end to end against a real provider on loopback:
 * the front end's PKCE and state, the provider's code and ID token, the one-time code, the
 * token endpoint, and the account it lands in.
 */
t.test('a new identity gets a new account without a password, and signs in to it again', async (t) => {
  const provider = await startMockProvider()
  t.teardown(() => provider.close())
  provider.identity = { sub: 'auth0|alice', email: 'Alice@Example.com', email_verified: true, name: 'Alice Liddell', preferred_username: 'alice' }
  const { app } = await buildOidcApp(t, provider)

  const list = await app.inject({ url: '/api/v1/auth/oidc' })
  t.same(list.json(), { providers: ['mock'] })

  const first = await signIn(app, provider)
  t.equal(first.frontEnd.origin + first.frontEnd.pathname, FRONT_END, 'back at the front end')
  t.equal(first.frontEnd.searchParams.get('state'), 'front-end-state', 'with its own state')
  const me = await app.inject({ url: '/api/v1/users/me', headers: bearer(first.access_token) })
  t.equal(me.statusCode, 200)
  t.match(me.json(), { email: 'alice@example.com', username: 'alice', full_name: 'Alice Liddell', roles: ['user'], is_active: true })
  const user = await app.db.selectFrom('users').selectAll().where('email', '=', 'alice@example.com').executeTakeFirstOrThrow()
  t.equal(user.hashed_password, null, 'no password')
  const identities = await app.db.selectFrom('user_identities').selectAll().execute()
  t.match(identities, [{ provider: 'mock', subject: 'auth0|alice', user_id: user.id, email: 'alice@example.com' }])

  const refresh = await app.inject({ method: 'POST', url: '/api/v1/auth/refresh', payload: { refresh_token: first.refresh_token } })
  t.equal(refresh.statusCode, 200, 'a session like any other: it refreshes')

  const second = await signIn(app, provider)
  const again = await app.inject({ url: '/api/v1/users/me', headers: bearer(second.access_token) })
  t.equal(again.json<{ id: string }>().id, user.id, 'the same identity signs in to the same account')
  t.equal((await app.db.selectFrom('users').select('id').execute()).length, 1, 'no second account')

  const password = await app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { login: 'alice', password: 'anything at all' } })
  t.equal(password.statusCode, 401, 'password login answers like a wrong password')
  t.equal(password.json<{ code: string }>().code, 'invalid_credentials')
  const change = await app.inject({
    method: 'PUT', url: '/api/v1/users/me/password', headers: bearer(second.access_token),
    payload: { current_password: 'anything at all', new_password: 'a brand new passphrase' }
  })
  t.equal(change.statusCode, 409)
  t.match(change.json(), { code: 'no_password', detail: /no password.*identity provider.*admin can set one/ })

  const events = await app.db.selectFrom('audit_events').select(['action', 'outcome', 'subject_user_id', 'details']).execute()
  t.same(events.map((event) => `${event.action}/${event.outcome}`).sort(), [
    'register/success', 'identity_linked/success', 'external_login/success', 'login/success',
    'external_login/success', 'login/success', 'login/failure'
  ].sort())
  t.match(events.find((event) => event.action === 'identity_linked'), { subject_user_id: user.id, details: { provider: 'mock', new_account: true, email_verified: true } })
})

t.test('a verified email of an existing account links to it; an unverified one never signs in to it', async (t) => {
  const provider = await startMockProvider()
  t.teardown(() => provider.close())
  const { app } = await buildOidcApp(t, provider)
  const owner = await registerAccount(app, { email: 'bob@example.com', username: 'bob' })

  provider.identity = { sub: 'attacker', email: 'bob@example.com', email_verified: false }
  const { verifier, callback } = await startSignIn(app, provider)
  const { frontEnd } = await finishCallback(app, callback)
  t.equal(frontEnd?.searchParams.get('error'), 'access_denied', 'unverified: refused')
  t.match(frontEnd?.searchParams.get('error_description'), /an account with this email exists/)
  t.equal(frontEnd?.searchParams.get('code'), null)
  t.equal(frontEnd?.searchParams.get('state'), 'front-end-state')
  t.equal((await app.db.selectFrom('user_identities').select('id').execute()).length, 0, 'nothing linked')
  t.equal((await redeem(app, 'made-up', verifier)).statusCode, 400, 'no code to trade')
  const failure = await app.db.selectFrom('audit_events').select(['outcome', 'details']).where('action', '=', 'external_login').executeTakeFirstOrThrow()
  t.match(failure, { outcome: 'failure', details: { provider: 'mock', reason: 'email_not_verified' } })

  provider.identity = { sub: 'bob-at-provider', email: 'BOB@example.com', email_verified: true }
  const { access_token: token } = await signIn(app, provider)
  const me = await app.inject({ url: '/api/v1/users/me', headers: bearer(token) })
  t.equal(me.json<{ id: string }>().id, owner.id, 'verified: the existing account')
  const login = await app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { login: 'bob', password: owner.password } })
  t.equal(login.statusCode, 200, 'its password still works')
  const linked = await app.db.selectFrom('audit_events').select('details').where('action', '=', 'identity_linked').executeTakeFirstOrThrow()
  t.match(linked.details, { provider: 'mock', new_account: false })
})

t.test('an admin gives an account without a password one; the identity keeps working', async (t) => {
  const provider = await startMockProvider()
  t.teardown(() => provider.close())
  const { app } = await buildOidcApp(t, provider)
  provider.identity = { sub: 'hana', email: 'hana@example.com', email_verified: true, preferred_username: 'hana' }
  await signIn(app, provider)
  const admin = await registerAdmin(app)
  const user = await app.db.selectFrom('users').select('id').where('email', '=', 'hana@example.com').executeTakeFirstOrThrow()
  const reset = await app.inject({ method: 'PUT', url: `/api/v1/admin/users/${user.id}/password`, headers: bearer(admin.accessToken), payload: { new_password: 'a brand new passphrase' } })
  t.equal(reset.statusCode, 204)
  const login = await app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { login: 'hana', password: 'a brand new passphrase' } })
  t.equal(login.statusCode, 200, 'the password works')
  await signIn(app, provider)
  t.pass('and so does the provider')
})

t.test('the prune job deletes sign-ins that can no longer be finished', async (t) => {
  const provider = await startMockProvider()
  t.teardown(() => provider.close())
  const { app } = await buildOidcApp(t, provider)
  await startSignIn(app, provider)
  await startSignIn(app, provider)
  t.equal(await app.oidc.pruneFlows(), 0, 'live flows stay')
  await app.db.updateTable('oidc_flows').set({ expires_at: new Date(Date.now() - 3600_000) }).execute()
  t.equal(await app.oidc.pruneFlows(), 2)
  t.equal((await app.db.selectFrom('oidc_flows').select('id').execute()).length, 0)
})

t.test('a disabled account cannot sign in through its provider', async (t) => {
  const provider = await startMockProvider()
  t.teardown(() => provider.close())
  const { app } = await buildOidcApp(t, provider)
  provider.identity = { sub: 'carol', email: 'carol@example.com', email_verified: true }
  await signIn(app, provider)
  await app.db.updateTable('users').set({ is_active: false }).where('email', '=', 'carol@example.com').execute()

  const { callback } = await startSignIn(app, provider)
  const { frontEnd } = await finishCallback(app, callback)
  t.equal(frontEnd?.searchParams.get('error'), 'access_denied')
  t.equal(frontEnd?.searchParams.get('error_description'), 'this account is disabled')
})

t.test('the one-time code works once, with the verifier and redirect_uri of its sign-in', async (t) => {
  const provider = await startMockProvider()
  t.teardown(() => provider.close())
  const { app } = await buildOidcApp(t, provider)
  provider.identity = { sub: 'dave', email: 'dave@example.com', email_verified: true }

  const trade = async (mutate: (code: string, verifier: string) => Parameters<typeof redeem>): Promise<string> => {
    const { verifier, callback } = await startSignIn(app, provider)
    const code = (await finishCallback(app, callback)).frontEnd?.searchParams.get('code') ?? ''
    const response = await redeem(...mutate(code, verifier))
    t.equal(response.statusCode, 400)
    const again = await redeem(app, code, verifier)
    t.equal(again.statusCode, 400, 'a code refused once is gone, even with the right verifier')
    return response.json<{ error_description: string }>().error_description
  }
  t.match(await trade((code) => [app, code, 'x'.repeat(43)]), /code_verifier does not match/)
  t.match(await trade((code, verifier) => [app, code, verifier, 'https://evil.example/cb']), /redirect_uri is not the one/)

  const { verifier, callback } = await startSignIn(app, provider)
  const code = (await finishCallback(app, callback)).frontEnd?.searchParams.get('code') ?? ''
  const [one, two] = await Promise.all([redeem(app, code, verifier), redeem(app, code, verifier)])
  t.same([one.statusCode, two.statusCode].sort(), [200, 400], 'two redemptions at once: one wins')

  const missing = await app.inject({ method: 'POST', url: '/api/v1/auth/token', payload: { grant_type: 'authorization_code', code } })
  t.match(missing.json(), { error: 'invalid_request', error_description: /needs code, code_verifier and redirect_uri/ })
  // Past its 60 s: the database clock decides.
  const late = await startSignIn(app, provider)
  const lateCode = (await finishCallback(app, late.callback)).frontEnd?.searchParams.get('code') ?? ''
  await app.db.updateTable('oidc_flows').set({ code_expires_at: new Date(Date.now() - 1000) }).where('code_used_at', 'is', null).execute()
  t.equal((await redeem(app, lateCode, late.verifier)).statusCode, 400, 'an expired code')
})

t.test('state is single-use and expires; a callback without a flow is a 400 and redirects nowhere', async (t) => {
  const provider = await startMockProvider()
  t.teardown(() => provider.close())
  const { app } = await buildOidcApp(t, provider)
  provider.identity = { sub: 'erin', email: 'erin@example.com', email_verified: true }

  const { callback } = await startSignIn(app, provider)
  const [one, two] = await Promise.all([finishCallback(app, callback), finishCallback(app, callback)])
  t.same([one.response.statusCode, two.response.statusCode].sort(), [302, 400], 'two callbacks with one state at once: one wins')
  const loser = one.response.statusCode === 400 ? one : two
  t.equal(loser.frontEnd, null, 'the loser redirects nowhere')
  t.match(loser.response.json(), { code: 'bad_request', detail: /unknown, expired or already finished/ })

  const expired = await startSignIn(app, provider)
  await app.db.updateTable('oidc_flows').set({ expires_at: new Date(Date.now() - 1000) }).where('consumed_at', 'is', null).execute()
  t.equal((await finishCallback(app, expired.callback)).response.statusCode, 400, 'an expired flow')

  const forged = new URL(callback)
  forged.searchParams.set('state', 'made-up')
  t.equal((await finishCallback(app, forged)).response.statusCode, 400, 'an unknown state')
  forged.searchParams.delete('state')
  t.match((await finishCallback(app, forged)).response.json(), { code: 'bad_request', detail: /state is missing/ })
})

t.test('authorize refuses what it must not redirect to', async (t) => {
  const provider = await startMockProvider()
  t.teardown(() => provider.close())
  const { app } = await buildOidcApp(t, provider)
  const base = { redirect_uri: FRONT_END, code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM', code_challenge_method: 'S256' }
  const ask = async (provider: string, query: Record<string, string>): Promise<{ status: number, location: unknown, body: string }> => {
    const response = await app.inject({ url: `/api/v1/auth/oidc/${provider}/authorize?${new URLSearchParams(query).toString()}` })
    return { status: response.statusCode, location: response.headers.location, body: response.body }
  }

  const open = await ask('mock', { ...base, redirect_uri: 'https://evil.example/steal' })
  t.equal(open.status, 400, 'not on the allowlist')
  t.equal(open.location, undefined, 'and no redirect: not an open redirector')
  t.match(open.body, /OIDC_REDIRECT_ALLOWLIST/)
  t.equal((await ask('mock', { ...base, redirect_uri: `${FRONT_END}/../other` })).status, 400, 'exact match only')
  t.equal((await ask('nobody', base)).status, 404, 'unknown provider')
  t.equal((await ask('mock', { ...base, code_challenge_method: 'plain' })).status, 400, 'plain PKCE')
  t.equal((await ask('mock', { redirect_uri: FRONT_END })).status, 400, 'no PKCE at all')
  t.equal((await ask('mock', { ...base, state: 'a\u0000b' })).status, 400, 'a NUL byte')
  t.equal((await app.db.selectFrom('oidc_flows').select('id').execute()).length, 0, 'no flow stored by a refused request')

  const ok = await ask('mock', base)
  t.equal(ok.status, 302)
  const target = new URL(String(ok.location))
  t.equal(target.origin, provider.issuer)
  t.match(Object.fromEntries(target.searchParams), {
    response_type: 'code', client_id: provider.clientId, code_challenge_method: 'S256', scope: 'openid email profile',
    redirect_uri: 'http://user-service.test/api/v1/auth/oidc/mock/callback'
  })
  t.not(target.searchParams.get('code_challenge'), base.code_challenge, 'our own PKCE towards the provider, not the front end\'s')
  t.ok(target.searchParams.get('nonce'))
})

t.test('the provider\'s own error goes back to the front end', async (t) => {
  const provider = await startMockProvider()
  t.teardown(() => provider.close())
  const { app } = await buildOidcApp(t, provider)
  provider.denyNext = true
  const { callback } = await startSignIn(app, provider)
  const { frontEnd } = await finishCallback(app, callback)
  t.equal(frontEnd?.searchParams.get('error'), 'access_denied')
  t.equal(frontEnd?.searchParams.get('state'), 'front-end-state')
  const event = await app.db.selectFrom('audit_events').select(['action', 'outcome', 'details']).executeTakeFirstOrThrow()
  t.match(event, { action: 'external_login', outcome: 'failure', details: { reason: 'provider_error' } })
})

t.test('a sign-in started on one instance finishes on another', async (t) => {
  const provider = await startMockProvider()
  t.teardown(() => provider.close())
  provider.identity = { sub: 'frank', email: 'frank@example.com', email_verified: true }
  const a = await buildOidcApp(t, provider)
  const b = await buildApp(t, { database: a.database, env: oidcEnv(provider) })
  const { verifier, callback } = await startSignIn(a.app, provider)
  const { frontEnd } = await finishCallback(b.app, callback)
  const tokens = await redeem(a.app, frontEnd?.searchParams.get('code') ?? '', verifier)
  t.equal(tokens.statusCode, 200, 'A started, B took the callback, A traded the code')
})
