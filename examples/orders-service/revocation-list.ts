/**
 * What orders-service knows of user-service's revocation feed: ended sessions (`sid`), and
 * accounts disabled or deleted (`sid` null) with when. A token is refused when its session is
 * listed, or when its account is listed and the token was issued no later than that (a token
 * issued after an account was enabled again is the account's new start).
 *
 * An entry is kept as long as a token issued before it can live (user-service's
 * JWT_EXPIRE_MINUTES), as user-service keeps it in the feed: past that, every token it could
 * refuse has expired anyway.
 */
export interface RevocationEntry {
  sid: string | null
  sub: string
  revoked_at: string
}

export interface TokenClaims {
  sub: string
  sid?: string
  iat?: number
}

export class RevocationList {
  /** Session id → when it ended (ms). */
  readonly #sessions = new Map<string, number>()
  /** Account id → when it was last disabled or deleted (ms). */
  readonly #accounts = new Map<string, number>()

  constructor (private readonly keepMs: number) {}

  add (entry: RevocationEntry): void {
    const at = Date.parse(entry.revoked_at)
    if (Number.isNaN(at)) throw new Error(`revoked_at is not a date: ${entry.revoked_at}`)
    if (entry.sid === null) this.#accounts.set(entry.sub, Math.max(at, this.#accounts.get(entry.sub) ?? 0))
    else this.#sessions.set(entry.sid, at)
  }

  /** Why a (verified, unexpired) token must be refused; undefined when nothing listed applies to it. */
  refusal (claims: TokenClaims): string | undefined {
    if (claims.sid !== undefined && this.#sessions.has(claims.sid)) return 'the session has ended'
    const accountRevokedAt = this.#accounts.get(claims.sub)
    // iat has whole seconds: a token of the same second as the revocation is refused too.
    if (accountRevokedAt !== undefined && (claims.iat ?? 0) * 1000 <= accountRevokedAt) return 'the account was disabled or deleted'
    return undefined
  }

  /** Drops what no unexpired token can need any more. */
  prune (now = Date.now()): void {
    for (const entries of [this.#sessions, this.#accounts]) {
      for (const [key, at] of entries) {
        if (at + this.keepMs <= now) entries.delete(key)
      }
    }
  }

  get size (): number {
    return this.#sessions.size + this.#accounts.size
  }
}
