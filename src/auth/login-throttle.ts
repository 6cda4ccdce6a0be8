import { createHash } from 'node:crypto'
import { normalizeIP } from '@fastify/rate-limit'
import { AppError } from '../errors.js'
import { counterKey } from '../rate-limit/counters.js'
import type { LoginKeys, LoginRule, SharedLoginState } from '../rate-limit/login-state.js'
import { normalizeLogin } from '../users/users.repository.js'

/** The two logins of an account. */
export interface AccountLogins {
  email: string
  username: string
}

/** One password attempt let through by the throttle; exactly one of these is called once it is decided. */
export interface LoginAttempt {
  /**
   * The password of `account` was right: the pair starts again, and the address is trusted by
   * the account-wide rule of both its logins (the owner may type the other one next time).
   */
  succeeded: (account: AccountLogins) => Promise<void>
  /** Wrong login or password: one more strike against the login across addresses. */
  failed: () => Promise<void>
  /** Undecided (an outage, not a wrong password): the attempt does not count. */
  released: () => Promise<void>
}

const UNTHROTTLED: LoginAttempt = { succeeded: async () => {}, failed: async () => {}, released: async () => {} }

/**
 * Login throttling (DESIGN "Abuse resistance", ASVS 6.3.1): strikes per (login, address) and
 * per login across addresses, keyed on the login as typed (normalised) whether or not an
 * account has it, so known and unknown logins are throttled alike. `begin` comes before any
 * lookup or hashing and counts the attempt at once, so parallel guesses cannot all slip
 * through before the first failure is recorded. The account-wide rule never holds back an
 * address the login signed in from before; refreshing a session is not a login at all.
 */
export class LoginThrottle {
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
      throw tooManyFailures(verdict.rule, Math.max(1, Math.ceil(verdict.retryAfterMs / 1000)))
    }
    return {
      succeeded: async (account) => { await Promise.all([state.succeeded(keys), this.trust(account, ip)]) },
      failed: () => state.failed(keys),
      released: () => state.released(keys)
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
  return {
    login: createHash('sha256').update(normalizeLogin(login)).digest('base64url'),
    address: ip === null ? 'unknown' : counterKey(normalizeIP(ip, 64))
  }
}

function tooManyFailures (rule: LoginRule, seconds: number): AppError {
  const message = rule === 'login_pair'
    ? `too many failed sign-ins for this login from this address; try again in ${seconds} s`
    : `too many failed sign-ins for this login; try again in ${seconds} s, or from an address it has signed in from before`
  return new AppError('too_many_requests', message, { headers: { 'retry-after': String(seconds) } })
}
