import { createHash } from 'node:crypto'
import { normalizeIP } from '@fastify/rate-limit'
import { AppError } from '../errors.js'
import { BoundedMap } from '../rate-limit/bounded-map.js'
import { counterKey } from '../rate-limit/counters.js'
import type { LoginKeys, LoginRule, SharedLoginState } from '../rate-limit/login-state.js'
import { normalizeLogin } from '../users/users.repository.js'

/** The two logins of an account. */
export interface AccountLogins {
  email: string
  username: string
}

/**
 * One password attempt let through by the throttle; exactly one of these is called once it is
 * decided. They do not wait for Redis: the request's answer does not depend on them, and the
 * next attempt's check goes out on the same connection after them, so Redis still sees them first.
 */
export interface LoginAttempt {
  /**
   * The password of `account` was right: the pair starts again, and the address is trusted by
   * the account-wide rule of both its logins (the owner may type the other one next time).
   */
  succeeded: (account: AccountLogins) => void
  /** Wrong login or password: one more strike against the login across addresses. */
  failed: () => void
  /** Undecided (an outage, not a wrong password): the attempt does not count. */
  released: () => void
}

const UNTHROTTLED: LoginAttempt = { succeeded: () => {}, failed: () => {}, released: () => {} }

/** How long one (rule, login, address) is reported once, however many refusals it gets. */
const REPORT_INTERVAL_MS = 60_000

/** A sign-in refused by the throttle: 429 with Retry-After; `firstReport` when it is the first of its kind this minute. */
export class LoginThrottledError extends AppError {
  constructor (readonly rule: LoginRule, readonly retryAfterSeconds: number, readonly firstReport: boolean) {
    super('too_many_requests', rule === 'login_pair'
      ? `too many failed sign-ins for this login from this address; try again in ${retryAfterSeconds} s`
      : `too many failed sign-ins for this login; try again in ${retryAfterSeconds} s, or from an address it has signed in from before`,
    { headers: { 'retry-after': String(retryAfterSeconds) } })
  }
}

/**
 * Login throttling (DESIGN "Abuse resistance", ASVS 6.3.1): strikes per (login, address) and
 * per login across addresses, keyed on the login as typed (normalised) whether or not an
 * account has it, so known and unknown logins are throttled alike. `begin` comes before any
 * lookup or hashing and counts the attempt at once, so parallel guesses cannot all slip
 * through before the first failure is recorded. The account-wide rule never holds back an
 * address the login signed in from before; refreshing a session is not a login at all.
 */
export class LoginThrottle {
  /** Refusals reported lately, so a flood of them makes one audit event a minute per (rule, login[, address]), not one per request. */
  readonly #reported = new BoundedMap<true>(10_000)

  constructor (
    private readonly state: SharedLoginState | null,
    private readonly onThrottled: (rule: LoginRule) => void = () => {}
  ) {}

  /** Counts an attempt of `login` from `ip`, or throws `too_many_requests` with `Retry-After`. */
  async begin (login: string, ip: string | null): Promise<LoginAttempt> {
    const state = this.state
    if (state === null) return UNTHROTTLED
    const keys = loginKeys(login, ip)
    const verdict = await state.begin(keys)
    if (verdict !== null) {
      this.onThrottled(verdict.rule)
      // An account-wide refusal is about the login, from however many addresses: one report for them all.
      const reportKey = verdict.rule === 'login_account' ? `${verdict.rule}:${keys.login}` : `${verdict.rule}:${keys.login}:${keys.address}`
      const firstReport = this.#reported.get(reportKey) === undefined
      if (firstReport) this.#reported.set(reportKey, true, REPORT_INTERVAL_MS)
      throw new LoginThrottledError(verdict.rule, Math.max(1, Math.ceil(verdict.retryAfterMs / 1000)), firstReport)
    }
    return {
      succeeded: (account) => {
        // The owner may type the account's other login next time: the address is trusted under both.
        const other = [account.email, account.username].map(loginDigest).find((login) => login !== keys.login)
        void state.succeeded(keys, other)
      },
      failed: () => { void state.failed(keys) },
      released: () => { void state.released(keys) }
    }
  }

  /** `ip` signed in to `account` (a password login, or the registration): the account-wide rule lets it through. */
  async trust (account: AccountLogins, ip: string | null): Promise<void> {
    const state = this.state
    if (state === null) return
    await Promise.all([account.email, account.username].map((login) => state.trust(loginKeys(login, ip))))
  }
}

/** The keys of a sign-in: a digest of the login (short, and no email in Redis) and the address (IPv6 per /64). */
export function loginKeys (login: string, ip: string | null): LoginKeys {
  return { login: loginDigest(login), address: ip === null ? 'unknown' : counterKey(normalizeIP(ip, 64)) }
}

function loginDigest (login: string): string {
  return createHash('sha256').update(normalizeLogin(login)).digest('base64url')
}
