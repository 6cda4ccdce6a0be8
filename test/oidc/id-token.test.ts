import t from 'tap'
import { LogCapture } from '../helper.js'
import { startMockProvider, type IdTokenDefect } from './mock-provider.js'
import { buildOidcApp, finishCallback, startSignIn } from './oidc-helper.js'

/** Every defect of the provider's answer is refused: no account, no code, the front end told, the log says why. */
const REASONS: Record<IdTokenDefect, RegExp> = {
  bad_signature: /signature verification failed/,
  wrong_nonce: /"nonce" claim/,
  wrong_audience: /"aud"/,
  wrong_issuer: /"iss"/,
  expired: /"exp"/,
  missing: /id_token/
}
const DEFECTS = Object.keys(REASONS) as IdTokenDefect[]

for (const defect of DEFECTS) {
  t.test(`an ID token with ${defect.replace('_', ' ')} is refused`, async (t) => {
    const provider = await startMockProvider()
    t.teardown(() => provider.close())
    const logs = new LogCapture()
    const { app } = await buildOidcApp(t, provider, { logs })
    provider.identity = { sub: `victim-${defect}`, email: 'victim@example.com', email_verified: true }
    provider.idTokenDefect = defect

    const { callback } = await startSignIn(app, provider)
    const { response, frontEnd } = await finishCallback(app, callback)
    t.equal(response.statusCode, 302)
    t.equal(frontEnd?.searchParams.get('error'), 'access_denied')
    t.equal(frontEnd?.searchParams.get('error_description'), 'the identity provider\'s answer could not be verified')
    t.equal(frontEnd?.searchParams.get('code'), null, 'no code')
    t.equal((await app.db.selectFrom('users').select('id').execute()).length, 0, 'no account')
    const event = await app.db.selectFrom('audit_events').select(['action', 'outcome', 'details']).executeTakeFirstOrThrow()
    t.match(event, { action: 'external_login', outcome: 'failure', details: { provider: 'mock', reason: 'refused_answer' } })
    const refused = logs.records().find((record) => record.event === 'oidc_refused')
    t.match(refused, { provider: 'mock', reason: REASONS[defect] }, 'the log names the check that failed')
    t.notMatch(JSON.stringify(refused), /victim@example\.com/, 'and holds none of the token\'s claims')
  })
}

t.test('a client secret the provider refuses fails the sign-in, not the service', async (t) => {
  const provider = await startMockProvider()
  t.teardown(() => provider.close())
  const { app } = await buildOidcApp(t, provider, {
    env: { OIDC_PROVIDERS: JSON.stringify([{ name: 'mock', issuer: provider.issuer, client_id: provider.clientId, client_secret: 'not-the-secret' }]) }
  })
  const { callback } = await startSignIn(app, provider)
  const { frontEnd } = await finishCallback(app, callback)
  t.equal(frontEnd?.searchParams.get('error'), 'access_denied')
  t.equal(app.oidc.provider('mock').state, 'closed', 'a refusal is not an outage: the breaker stays closed')
})
