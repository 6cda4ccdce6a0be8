/**
 * OIDC_PROVIDERS and OIDC_REDIRECT_ALLOWLIST: the external identity providers and the front-end
 * addresses a sign-in may return to. Every mistake is a start-up error naming the variable and
 * the provider, and never echoing a client secret.
 */

export interface OidcProviderSettings {
  /** The path segment of its endpoints: /auth/oidc/{name}/authorize. */
  name: string
  /** The issuer identifier, exactly as the provider's discovery document states it. */
  issuer: string
  clientId: string
  /** null: a public client at the provider (PKCE only, no client authentication). */
  clientSecret: string | null
  /** Space-separated; always includes `openid`. */
  scopes: string
}

export interface OidcSettings {
  providers: OidcProviderSettings[]
  /** Exact front-end redirect URIs a sign-in may end at. */
  redirectAllowlist: string[]
  /** One call to a provider (discovery, token, JWKS) slower than this fails. */
  timeoutMs: number
  /** How long a provider's breaker stays open before it lets a call through to probe it. */
  breakerResetMs: number
}

export class OidcConfigError extends Error {}

const NAME_PATTERN = /^[a-z0-9][a-z0-9_-]{0,31}$/
const KNOWN_KEYS = new Set(['name', 'issuer', 'client_id', 'client_secret', 'scopes'])

function fail (message: string): never {
  throw new OidcConfigError(`invalid configuration: ${message}`)
}

/** `development` allows http issuers and front ends (a provider on the laptop); elsewhere only https, or http on loopback for front ends. */
export function parseOidcProviders (value: string, allowHttp: boolean): OidcProviderSettings[] {
  if (value.trim() === '') return []
  let parsed: unknown
  try {
    parsed = JSON.parse(value)
  } catch (error) {
    fail(`OIDC_PROVIDERS must be a JSON array of providers, such as [{"name":"auth0","issuer":"https://TENANT.auth0.com/","client_id":"…","client_secret":"…"}] (${(error as Error).message})`)
  }
  if (!Array.isArray(parsed)) fail('OIDC_PROVIDERS must be a JSON array of providers')
  const names = new Set<string>()
  return parsed.map((entry: unknown, index) => {
    const provider = parseProvider(entry, `OIDC_PROVIDERS[${index}]`, allowHttp)
    if (names.has(provider.name)) fail(`OIDC_PROVIDERS names "${provider.name}" twice`)
    names.add(provider.name)
    return provider
  })
}

function parseProvider (entry: unknown, at: string, allowHttp: boolean): OidcProviderSettings {
  if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) fail(`${at} must be an object with name, issuer, client_id and client_secret`)
  const fields = entry as Record<string, unknown>
  const unknown = Object.keys(fields).filter((key) => !KNOWN_KEYS.has(key))
  if (unknown.length > 0) fail(`${at} has unknown fields: ${unknown.join(', ')} (allowed: ${[...KNOWN_KEYS].join(', ')})`)
  const text = (key: string, required: boolean): string | null => {
    const field = fields[key]
    if (field === undefined && !required) return null
    if (typeof field !== 'string' || field === '' || field.length > 2048) fail(`${at}.${key} must be a non-empty string`)
    return field
  }
  const name = text('name', true) as string
  if (!NAME_PATTERN.test(name)) fail(`${at}.name must be 1-32 characters of a-z 0-9 _ -, starting with a letter or digit (got "${name}")`)
  const where = `OIDC_PROVIDERS "${name}"`
  const issuer = text('issuer', true) as string
  if (!isUrl(issuer, allowHttp ? ['https:', 'http:'] : ['https:'])) {
    fail(`${where}: issuer must be an https URL${allowHttp ? ' (or http in development)' : ' outside NODE_ENV=development'} (got "${issuer}")`)
  }
  const scopes = text('scopes', false) ?? 'openid email profile'
  if (!scopes.split(' ').includes('openid')) fail(`${where}: scopes must include openid (got "${scopes}")`)
  return { name, issuer, clientId: text('client_id', true) as string, clientSecret: text('client_secret', false), scopes }
}

/** Exact URIs, absolute, without a fragment; https, or http on a loopback address (RFC 8252 §7.3) or in development. */
export function parseRedirectAllowlist (value: string, allowHttp: boolean): string[] {
  const uris = value.split(',').map((uri) => uri.trim()).filter((uri) => uri !== '')
  for (const uri of uris) {
    const ok = isUrl(uri, ['https:', 'http:']) && !uri.includes('#') &&
      (uri.startsWith('https:') || allowHttp || isLoopback(new URL(uri).hostname))
    if (!ok) fail(`OIDC_REDIRECT_ALLOWLIST must list exact front-end URLs, comma-separated: https, or http on 127.0.0.1, [::1] or localhost, no fragment (got "${uri}")`)
  }
  return uris
}

function isUrl (text: string, protocols: string[]): boolean {
  try {
    const url = new URL(text)
    return protocols.includes(url.protocol) && url.username === '' && url.password === ''
  } catch {
    return false
  }
}

function isLoopback (hostname: string): boolean {
  return hostname === 'localhost' || hostname === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(hostname)
}
