import * as client from 'openid-client'
import CircuitBreaker from 'opossum'
import { BreakerClock, describeFailure, type BreakerState } from '../../resilience/breaker-clock.js'
import { AppError } from '../../errors.js'
import type { OidcProviderSettings } from './oidc-config.js'

/** Discovery younger than this is used without asking the provider again. */
const DISCOVERY_FRESH_MS = 5 * 60_000
/**
 * While the provider cannot be reached, discovery (and the JWKS held with it) this young is
 * still used: the seed's "fallback to cached tokens, short window". Older, sign-ins wait for it.
 */
const DISCOVERY_STALE_MS = 60 * 60_000

/** The provider cannot be reached, or its breaker is open: 503 with Retry-After, password logins untouched. */
export class ProviderUnavailableError extends AppError {
  constructor (readonly provider: string, readonly reason: string, readonly retryAfterSeconds: number, options: { cause?: unknown } = {}) {
    super('service_unavailable', `identity provider "${provider}" is unavailable (${reason}); try again in ${retryAfterSeconds} s`, {
      headers: { 'retry-after': String(retryAfterSeconds) },
      ...options
    })
  }
}

/** A call answered 5xx: an outage, counted by the breaker like a refused connection. */
class ProviderServerError extends Error {
  constructor (readonly status: number) {
    super(`HTTP ${status}`)
  }
}

export interface ProviderLog {
  info: (object: Record<string, unknown>, message: string) => void
  warn: (object: Record<string, unknown>, message: string) => void
}

export interface ProviderOptions {
  timeoutMs: number
  breakerResetMs: number
  /** http issuers (NODE_ENV=development only). */
  allowHttp: boolean
  log: ProviderLog
  /** The time, for the discovery cache (tests move it). */
  clock?: () => number
}

/** The claims of a verified ID token this service acts on. */
export interface VerifiedIdentity {
  subject: string
  email: string | null
  emailVerified: boolean
  name: string | null
  preferredUsername: string | null
}

export interface AuthorizationChecks {
  codeVerifier: string
  state: string
  nonce: string
}

/**
 * One external OpenID provider, through openid-client: discovery, the authorization URL and the
 * code exchange with ID-token verification (signature against the provider's JWKS, iss, aud,
 * nonce, exp). Every HTTP call goes through the provider's own circuit breaker with a short
 * timeout, so an outage costs a sign-in one fast 503 rather than a hung request, and never
 * touches password logins.
 */
export class OidcProvider {
  readonly breaker: CircuitBreaker<[() => Promise<Response>], Response>
  #discovered: { configuration: client.Configuration, at: number } | null = null
  #discovering: Promise<client.Configuration> | null = null
  readonly #clock: BreakerClock

  constructor (readonly settings: OidcProviderSettings, private readonly options: ProviderOptions) {
    this.breaker = new CircuitBreaker(async (call: () => Promise<Response>) => call(), {
      name: `oidc:${settings.name}`,
      // The fetch itself is aborted at timeoutMs; opossum only counts.
      timeout: false,
      resetTimeout: options.breakerResetMs,
      errorThresholdPercentage: 50,
      volumeThreshold: 3
    })
    this.#clock = new BreakerClock(this.breaker, options.breakerResetMs)
    this.breaker.on('open', () => {
      const reason = this.#clock.lastFailure
      options.log.warn({ event: 'oidc_breaker', provider: settings.name, state: 'open', reason }, `identity provider "${settings.name}" circuit breaker opened: ${reason}`)
    })
    this.breaker.on('close', () => {
      options.log.info({ event: 'oidc_breaker', provider: settings.name, state: 'closed' }, `identity provider "${settings.name}" answers again`)
    })
  }

  get name (): string {
    return this.settings.name
  }

  get state (): BreakerState {
    return this.#clock.state
  }

  /** Throws ProviderUnavailableError at once while the breaker is open. */
  assertAvailable (): void {
    if (this.state === 'open') throw this.#unavailable('circuit breaker open')
  }

  /** The provider's authorization URL for a new flow (our PKCE, state and nonce). */
  async authorizationUrl (redirectUri: string, checks: AuthorizationChecks): Promise<URL> {
    const configuration = await this.#configuration()
    return client.buildAuthorizationUrl(configuration, {
      redirect_uri: redirectUri,
      scope: this.settings.scopes,
      state: checks.state,
      nonce: checks.nonce,
      code_challenge: await client.calculatePKCECodeChallenge(checks.codeVerifier),
      code_challenge_method: 'S256'
    })
  }

  /**
   * Trades the code of `callbackUrl` for tokens and returns the ID token's identity, verified.
   * Throws ProviderUnavailableError for an outage; any other error is a refusal (a bad ID token,
   * a code the provider refused), which callers report without retrying.
   */
  async exchange (callbackUrl: URL, checks: AuthorizationChecks): Promise<VerifiedIdentity> {
    const configuration = await this.#configuration()
    try {
      const tokens = await client.authorizationCodeGrant(configuration, callbackUrl, {
        pkceCodeVerifier: checks.codeVerifier,
        expectedState: checks.state,
        expectedNonce: checks.nonce,
        idTokenExpected: true
      })
      const claims = tokens.claims()
      if (claims === undefined) throw new Error('the provider sent no ID token')
      return {
        subject: claims.sub,
        email: typeof claims.email === 'string' ? claims.email : null,
        // Only a literal true: some providers send "true", or nothing, for addresses they never checked.
        emailVerified: claims.email_verified === true,
        name: typeof claims.name === 'string' ? claims.name : null,
        preferredUsername: typeof claims.preferred_username === 'string' ? claims.preferred_username : null
      }
    } catch (error) {
      throw this.#asOutage(error) ?? error
    }
  }

  shutdown (): void {
    this.breaker.shutdown()
  }

  /** Discovery, cached; served stale for a while when the provider cannot be reached. */
  async #configuration (): Promise<client.Configuration> {
    const cached = this.#discovered
    const now = this.#now()
    if (cached !== null && now - cached.at < DISCOVERY_FRESH_MS) return cached.configuration
    this.#discovering ??= this.#discover().finally(() => { this.#discovering = null })
    try {
      return await this.#discovering
    } catch (error) {
      const outage = this.#asOutage(error)
      if (cached !== null && now - cached.at < DISCOVERY_STALE_MS) {
        this.options.log.warn({ event: 'oidc_discovery_stale', provider: this.name, reason: outage?.reason ?? describeFailure(error) },
          `identity provider "${this.name}": discovery failed, using the copy from ${Math.round((now - cached.at) / 1000)} s ago`)
        return cached.configuration
      }
      throw outage ?? error
    }
  }

  async #discover (): Promise<client.Configuration> {
    const { clientId, clientSecret, issuer } = this.settings
    const configuration = await client.discovery(new URL(issuer), clientId, clientSecret ?? undefined,
      clientSecret === null ? client.None() : client.ClientSecretPost(clientSecret), {
        [client.customFetch]: this.#fetch,
        execute: [
          ...(this.options.allowHttp ? [client.allowInsecureRequests] : []),
          // Verify the ID token's signature against the provider's JWKS, not only TLS.
          client.enableNonRepudiationChecks
        ]
      })
    // The keys fetched so far carry over to the new discovery: no JWKS round trip per refresh.
    const jwks = this.#discovered === null ? undefined : client.getJwksCache(this.#discovered.configuration)
    if (jwks !== undefined) client.setJwksCache(configuration, jwks)
    this.#discovered = { configuration, at: this.#now() }
    return configuration
  }

  #now (): number {
    return (this.options.clock ?? Date.now)()
  }

  /** Every HTTP call of openid-client: through the breaker, aborted after timeoutMs; a 5xx counts as a failure. */
  readonly #fetch: client.CustomFetch = async (url, init) => {
    try {
      return await this.breaker.fire(async () => {
        const response = await fetch(url, { ...init, signal: AbortSignal.timeout(this.options.timeoutMs) } as RequestInit)
        if (response.status >= 500) throw new ProviderServerError(response.status)
        return response
      })
    } catch (error) {
      throw this.#asOutage(error) ?? error
    }
  }

  #unavailable (reason: string, cause?: unknown): ProviderUnavailableError {
    return new ProviderUnavailableError(this.name, reason, this.#clock.retryAfterSeconds(), { cause })
  }

  /** The outage behind `error` (found through openid-client's wrapping), as ProviderUnavailableError; undefined for a refusal. */
  #asOutage (error: unknown): ProviderUnavailableError | undefined {
    for (let cause = error, depth = 0; cause instanceof Error && depth < 5; cause = cause.cause, depth++) {
      if (cause instanceof ProviderUnavailableError) return cause
      const code = (cause as { code?: unknown }).code
      if (code === 'EOPENBREAKER') return this.#unavailable('circuit breaker open', cause)
      if (cause instanceof ProviderServerError) return this.#unavailable(cause.message, cause)
      if (cause.name === 'TimeoutError' || cause.name === 'AbortError') return this.#unavailable(`no answer within ${this.options.timeoutMs} ms`, cause)
      if (cause instanceof TypeError && cause.message === 'fetch failed') return this.#unavailable(describeFailure(cause), cause)
    }
    return undefined
  }
}
