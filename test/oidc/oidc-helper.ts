import { createHash, randomBytes } from 'node:crypto'
import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import { buildApp, type BuildOptions, type TestApp } from '../helper.js'
import type { MockProvider } from './mock-provider.js'

/** The front end's address that sign-ins may return to (OIDC_REDIRECT_ALLOWLIST). */
export const FRONT_END = 'https://app.example.test/auth/callback'

/** The settings of an app that signs in through `provider` under the name `mock`. */
export function oidcEnv (provider: MockProvider, env: Record<string, string> = {}): Record<string, string> {
  return {
    OIDC_PROVIDERS: JSON.stringify([{ name: 'mock', issuer: provider.issuer, client_id: provider.clientId, client_secret: provider.clientSecret }]),
    OIDC_REDIRECT_ALLOWLIST: FRONT_END,
    ...env
  }
}

export async function buildOidcApp (t: Parameters<typeof buildApp>[0], provider: MockProvider, options: BuildOptions = {}): Promise<TestApp> {
  return buildApp(t, { ...options, env: oidcEnv(provider, options.env) })
}

/** The front end's PKCE pair (RFC 7636): the verifier it keeps, the challenge it sends. */
export function pkce (): { verifier: string, challenge: string } {
  const verifier = randomBytes(32).toString('base64url')
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') }
}

export function authorizeUrl (challenge: string, extra: Record<string, string> = {}): string {
  const query = new URLSearchParams({ redirect_uri: FRONT_END, state: 'front-end-state', code_challenge: challenge, code_challenge_method: 'S256', ...extra })
  return `/api/v1/auth/oidc/mock/authorize?${query.toString()}`
}

/** A URL of the app (PUBLIC_URL http://user-service.test) as a path to inject. */
export function pathOf (url: string | URL): string {
  const parsed = new URL(url)
  return `${parsed.pathname}${parsed.search}`
}

export interface SignInStart {
  verifier: string
  /** Where the provider sends the browser back: our callback, with its code and our state. */
  callback: URL
}

/** The front end starts a sign-in and the browser goes through the provider (which consents at once). */
export async function startSignIn (app: FastifyInstance, provider: MockProvider): Promise<SignInStart> {
  const { verifier, challenge } = pkce()
  const authorize = await app.inject({ url: authorizeUrl(challenge) })
  if (authorize.statusCode !== 302) throw new Error(`authorize answered ${authorize.statusCode}: ${authorize.body}`)
  return { verifier, callback: await provider.authorize(String(authorize.headers.location)) }
}

/** The provider's redirect reaches our callback; returns the answer and where it sends the browser. */
export async function finishCallback (app: FastifyInstance, callback: URL): Promise<{ response: LightMyRequestResponse, frontEnd: URL | null }> {
  const response = await app.inject({ url: pathOf(callback) })
  const location = response.headers.location
  return { response, frontEnd: typeof location === 'string' ? new URL(location) : null }
}

/** The front end trades its one-time code at the token endpoint. */
export async function redeem (app: FastifyInstance, code: string, verifier: string, redirectUri = FRONT_END): Promise<LightMyRequestResponse> {
  return app.inject({
    method: 'POST',
    url: '/api/v1/auth/token',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    payload: new URLSearchParams({ grant_type: 'authorization_code', code, code_verifier: verifier, redirect_uri: redirectUri }).toString()
  })
}

/** The whole sign-in, from the front end's first redirect to its tokens. */
export async function signIn (app: FastifyInstance, provider: MockProvider): Promise<{ access_token: string, refresh_token: string, frontEnd: URL }> {
  const { verifier, callback } = await startSignIn(app, provider)
  const { frontEnd } = await finishCallback(app, callback)
  const code = frontEnd?.searchParams.get('code')
  if (frontEnd === null || code === null || code === undefined) throw new Error(`the callback did not return a code: ${frontEnd?.href ?? 'no redirect'}`)
  const tokens = await redeem(app, code, verifier)
  if (tokens.statusCode !== 200) throw new Error(`the token endpoint answered ${tokens.statusCode}: ${tokens.body}`)
  return { ...tokens.json<{ access_token: string, refresh_token: string }>(), frontEnd }
}
