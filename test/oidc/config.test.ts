import t from 'tap'
import { loadConfig } from '../../src/config.js'

const auth0 = { name: 'auth0', issuer: 'https://tenant.eu.auth0.com/', client_id: 'abc', client_secret: 'very-secret-value' }
const allow = { OIDC_REDIRECT_ALLOWLIST: 'https://app.example.com/cb, http://127.0.0.1:5173/cb' }

t.test('OIDC_PROVIDERS and OIDC_REDIRECT_ALLOWLIST are read and checked at start', async (t) => {
  t.same(loadConfig({}).oidc.providers, [], 'none by default')
  const config = loadConfig({ OIDC_PROVIDERS: JSON.stringify([auth0]), ...allow })
  t.same(config.oidc.providers, [{ name: 'auth0', issuer: 'https://tenant.eu.auth0.com/', clientId: 'abc', clientSecret: 'very-secret-value', scopes: 'openid email profile' }])
  t.same(config.oidc.redirectAllowlist, ['https://app.example.com/cb', 'http://127.0.0.1:5173/cb'])
  t.equal(loadConfig({ OIDC_PROVIDERS: JSON.stringify([{ ...auth0, client_secret: undefined }]), ...allow }).oidc.providers[0]?.clientSecret, null, 'a public client at the provider')

  const refused = (env: Record<string, string>, message: RegExp, what: string): void => {
    t.throws(() => loadConfig(env), { name: 'ConfigError', message }, what)
    try {
      loadConfig(env)
    } catch (error) {
      t.notMatch((error as Error).message, /very-secret-value/, `${what}: never echoes the secret`)
    }
  }
  refused({ OIDC_PROVIDERS: '[{"name": "auth0",', ...allow }, /OIDC_PROVIDERS must be a JSON array/, 'bad JSON')
  refused({ OIDC_PROVIDERS: JSON.stringify(auth0), ...allow }, /OIDC_PROVIDERS must be a JSON array/, 'an object, not an array')
  refused({ OIDC_PROVIDERS: JSON.stringify([{ ...auth0, issuer: 'http://tenant.auth0.com/' }]), NODE_ENV: 'test', ...allow },
    /OIDC_PROVIDERS "auth0": issuer must be an https URL outside NODE_ENV=development/, 'http issuer outside development')
  refused({ OIDC_PROVIDERS: JSON.stringify([{ ...auth0, secret: 'x' }]), ...allow }, /OIDC_PROVIDERS\[0\] has unknown fields: secret/, 'unknown field')
  refused({ OIDC_PROVIDERS: JSON.stringify([auth0, auth0]), ...allow }, /names "auth0" twice/, 'duplicate')
  refused({ OIDC_PROVIDERS: JSON.stringify([{ ...auth0, name: 'Auth 0' }]), ...allow }, /OIDC_PROVIDERS\[0\]\.name must be/, 'bad name')
  refused({ OIDC_PROVIDERS: JSON.stringify([{ ...auth0, client_id: '' }]), ...allow }, /client_id must be a non-empty string/, 'empty client id')
  refused({ OIDC_PROVIDERS: JSON.stringify([{ ...auth0, scopes: 'email' }]), ...allow }, /scopes must include openid/, 'no openid scope')
  refused({ OIDC_PROVIDERS: JSON.stringify([auth0]) }, /OIDC_REDIRECT_ALLOWLIST must list the front-end URLs/, 'providers without an allowlist')
  refused({ OIDC_REDIRECT_ALLOWLIST: 'http://app.example.com/cb', NODE_ENV: 'test' }, /OIDC_REDIRECT_ALLOWLIST must list exact front-end URLs/, 'http off loopback')
  refused({ OIDC_REDIRECT_ALLOWLIST: 'https://app.example.com/cb#x' }, /no fragment/, 'a fragment')
  refused({ OIDC_REDIRECT_ALLOWLIST: '/relative' }, /OIDC_REDIRECT_ALLOWLIST/, 'a relative path')
  t.ok(loadConfig({ OIDC_REDIRECT_ALLOWLIST: 'http://app.example.com/cb' }), 'http anywhere in development')
})
