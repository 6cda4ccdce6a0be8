import { createHash, randomBytes, timingSafeEqual } from 'node:crypto'
import type { Kysely } from 'kysely'
import * as client from 'openid-client'
import { v7 as uuidv7 } from 'uuid'
import type { AuditLog } from '../../audit/audit-log.js'
import { eventBy } from '../../audit/events.js'
import type { Database, UserRow } from '../../db/types.js'
import { AppError, OAuthError } from '../../errors.js'
import { paths } from '../../paths.js'
import { clientSource, type ClientContext } from '../sessions/sessions.service.js'
import { findUserById } from '../../users/users.repository.js'
import { AccountLinking, LinkRefused } from './account-linking.js'
import { attachCode, consumeFlow, deleteFlowsBefore, insertFlow, redeemCode, type ConsumedFlow } from './oidc.repository.js'
import { ProviderUnavailableError, type OidcProvider, type ProviderLog } from './provider.js'

/** A sign-in must come back from the provider within this. */
const FLOW_TTL_MS = 10 * 60_000
/** The front end must trade its one-time code within this. */
const CODE_TTL_MS = 60_000

/** What the front end sends to /authorize: where to return, its own state, its own PKCE challenge. */
export interface AuthorizeRequest {
  redirectUri: string
  state?: string | undefined
  codeChallenge: string
}

/** The provider's answer at /callback (RFC 6749 §4.1.2). */
export interface CallbackQuery {
  state?: string | undefined
  error?: string | undefined
}

/** Authorization-response error codes (RFC 6749 §4.1.2.1) a provider's error is passed on as; anything else becomes server_error. */
const PASSED_ON_ERRORS = new Set(['access_denied', 'invalid_scope', 'temporarily_unavailable', 'server_error', 'login_required', 'consent_required', 'interaction_required'])

function digest (value: string): string {
  return createHash('sha256').update(value).digest('base64url')
}

/**
 * Sign-in through an external OpenID provider (DESIGN "External identity providers"): the front
 * end's PKCE and state in, ours out to the provider; the flow kept in the database so any
 * instance can finish it, consumed once; a one-time code back to the front end, bound to its
 * code_challenge and redirect_uri, traded at the token endpoint for the usual session.
 */
export class OidcService {
  readonly #providers: Map<string, OidcProvider>
  readonly #linking: AccountLinking

  constructor (
    private readonly db: Kysely<Database>,
    providers: OidcProvider[],
    private readonly settings: { redirectAllowlist: string[], publicUrl: string },
    private readonly audit: AuditLog,
    private readonly log: ProviderLog
  ) {
    this.#providers = new Map(providers.map((provider) => [provider.name, provider]))
    this.#linking = new AccountLinking(audit)
  }

  get providers (): OidcProvider[] {
    return [...this.#providers.values()]
  }

  provider (name: string): OidcProvider {
    const provider = this.#providers.get(name)
    if (provider === undefined) throw new AppError('not_found', `no identity provider is called "${name}"`)
    return provider
  }

  /** Where this service receives the provider's answer; registered at the provider as the callback URL. */
  callbackUrl (name: string): string {
    return `${this.settings.publicUrl}${paths.auth}/oidc/${name}/callback`
  }

  /** Starts a sign-in: stores the flow and returns the provider's authorization URL. */
  async authorize (name: string, request: AuthorizeRequest): Promise<URL> {
    const provider = this.provider(name)
    if (!this.settings.redirectAllowlist.includes(request.redirectUri)) {
      throw new AppError('validation_failed', 'redirect_uri is not on OIDC_REDIRECT_ALLOWLIST', {
        errors: [{ path: '/redirect_uri', message: 'must be one of the front-end URLs on OIDC_REDIRECT_ALLOWLIST, exactly' }]
      })
    }
    provider.assertAvailable()
    const checks = { state: client.randomState(), nonce: client.randomNonce(), codeVerifier: client.randomPKCECodeVerifier() }
    const url = await provider.authorizationUrl(this.callbackUrl(name), checks)
    await insertFlow(this.db, {
      id: uuidv7(),
      provider: name,
      state_hash: digest(checks.state),
      nonce: checks.nonce,
      code_verifier: checks.codeVerifier,
      redirect_uri: request.redirectUri,
      client_state: request.state ?? null,
      code_challenge: request.codeChallenge,
      expires_at: new Date(Date.now() + FLOW_TTL_MS)
    })
    return url
  }

  /**
   * The provider's answer: verifies it and returns where the browser goes next, the front end's
   * redirect_uri with a one-time `code`, or with `error`. A state that is missing, unknown,
   * expired or used is a 400 here: with no flow there is no redirect_uri to trust. `rawQuery`
   * is the callback's query string as received (the provider's answer, byte for byte).
   */
  async callback (name: string, query: CallbackQuery, rawQuery: string, context: ClientContext): Promise<URL> {
    const provider = this.provider(name)
    if (query.state === undefined) throw new AppError('bad_request', 'state is missing: this is not an answer to a sign-in started here')
    provider.assertAvailable()
    const flow = await consumeFlow(this.db, digest(query.state))
    if (flow === undefined || flow.provider !== name) {
      throw new AppError('bad_request', 'this sign-in is unknown, expired or already finished; start it again')
    }
    const failed = async (reason: string, error: string, description: string): Promise<URL> => {
      await this.audit.record(eventBy(clientSource(null, context), { action: 'external_login', outcome: 'failure' }, null, { provider: name, reason }))
      return frontEnd(flow, { error, error_description: description })
    }
    if (query.error !== undefined) {
      return failed('provider_error', PASSED_ON_ERRORS.has(query.error) ? query.error : 'server_error', `the identity provider answered ${query.error.slice(0, 64)}`)
    }
    let user: UserRow
    try {
      // openid-client reads the answer from this URL and derives redirect_uri from it: the public callback URL.
      const callbackUrl = new URL(`${this.callbackUrl(name)}?${rawQuery}`)
      const identity = await provider.exchange(callbackUrl, { state: query.state, nonce: flow.nonce, codeVerifier: flow.code_verifier })
      user = await this.#linking.accountFor(name, identity, clientSource(null, context))
    } catch (error) {
      if (error instanceof ProviderUnavailableError) return failed('provider_unavailable', 'temporarily_unavailable', error.message)
      if (error instanceof LinkRefused) return failed(error.reason, 'access_denied', error.message)
      if (error instanceof AppError) throw error
      // A refused answer (a bad ID token, a code the provider would not trade): why goes to the log, not to the browser.
      this.log.warn({ event: 'oidc_refused', provider: name, ...refusalReason(error) }, `identity provider "${name}": answer refused`)
      return failed('refused_answer', 'access_denied', 'the identity provider\'s answer could not be verified')
    }
    const code = randomBytes(32).toString('base64url')
    await attachCode(this.db, flow.id, digest(code), user.id, new Date(Date.now() + CODE_TTL_MS))
    await this.audit.record(eventBy(clientSource(user.id, context), { action: 'external_login', outcome: 'success' }, user.id, { provider: name }))
    return frontEnd(flow, { code })
  }

  /** Deletes the flows that can no longer be finished (their state and any code expired); returns how many. */
  async pruneFlows (): Promise<number> {
    return deleteFlowsBefore(this.db, new Date(Date.now() - CODE_TTL_MS))
  }

  /** grant_type=authorization_code: the user of a one-time code, once, for the client that proves its code_verifier. */
  async redeem (code: string, codeVerifier: string, redirectUri: string): Promise<UserRow> {
    const redeemed = await redeemCode(this.db, digest(code))
    if (redeemed === undefined) throw new OAuthError('invalid_grant', 'the code is not valid: unknown, expired or already used')
    if (redeemed.redirect_uri !== redirectUri) throw new OAuthError('invalid_grant', 'redirect_uri is not the one the sign-in started with')
    const challenge = Buffer.from(await client.calculatePKCECodeChallenge(codeVerifier))
    const expected = Buffer.from(redeemed.code_challenge)
    if (challenge.length !== expected.length || !timingSafeEqual(challenge, expected)) {
      throw new OAuthError('invalid_grant', 'code_verifier does not match the code_challenge the sign-in started with')
    }
    const user = await findUserById(this.db, redeemed.user_id)
    if (user === undefined || !user.is_active) throw new OAuthError('invalid_grant', 'this account is disabled or gone')
    return user
  }
}

/**
 * Which check refused the provider's answer: openid-client's outer message is generic ("invalid
 * response encountered"), its cause names the check. Never the cause's own cause: it holds the
 * token's claims (an email) or the whole token response.
 */
function refusalReason (error: unknown): { reason: string, code?: string } {
  const { message, code, cause } = error as { message?: unknown, code?: unknown, cause?: { message?: unknown } }
  const detail = typeof cause?.message === 'string' ? cause.message : typeof message === 'string' ? message : String(error)
  return { reason: detail.slice(0, 200), ...(typeof code === 'string' ? { code } : {}) }
}

/** The front end's redirect_uri with `params` and its own state. */
function frontEnd (flow: ConsumedFlow, params: Record<string, string>): URL {
  const url = new URL(flow.redirect_uri)
  for (const [key, value] of Object.entries(params)) url.searchParams.set(key, value)
  if (flow.client_state !== null) url.searchParams.set('state', flow.client_state)
  return url
}
