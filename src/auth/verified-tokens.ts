import { LruMap } from './sessions/lru.js'
import type { AccessTokenClaims } from './tokens.js'

/**
 * Bearer tokens whose signature and claims this instance has checked, by the token itself: a
 * client sends the same access token with every request for its whole lifetime, and checking
 * it again (decoding, the key lookup, the signature) is most of what a protected request costs
 * before the handler. An entry lasts until the token's `exp`, and only while the key that
 * signed it still verifies (`keyVerifies`), so a key retired with `--now` stops its tokens at
 * the key store's next refresh, as it does for tokens never seen. Whether the session is still
 * live is not kept here: the session view answers that on every request.
 */
export class VerifiedTokens {
  /**
   * By the token's signature, the entry holding the whole token: a Map hashes its key on every
   * lookup (the header's string is new with each request), and a signature is a tenth of an
   * access token. The whole token is compared before its claims are trusted.
   */
  readonly #entries: LruMap<string, { token: string, claims: AccessTokenClaims, kid: string | undefined, until: number }>

  constructor (capacity: number, private readonly keyVerifies: (kid: string | undefined) => boolean) {
    this.#entries = new LruMap(capacity)
  }

  /** The claims of `token` if it was verified, is not past its `exp`, and its key still verifies. */
  claimsOf (token: string, now = Date.now()): AccessTokenClaims | undefined {
    const signature = signatureOf(token)
    const entry = this.#entries.get(signature)
    if (entry === undefined || entry.token !== token) return undefined
    if (entry.until <= now || !this.keyVerifies(entry.kid)) {
      this.#entries.delete(signature)
      return undefined
    }
    return entry.claims
  }

  /** Keeps `token`, just verified with the key `kid`, with its claims. */
  remember (token: string, kid: string | undefined, claims: AccessTokenClaims): void {
    this.#entries.set(signatureOf(token), { token, claims, kid, until: claims.exp * 1000 })
  }

  get size (): number {
    return this.#entries.size
  }
}

/** The last part of a compact JWS (the whole string if it has no dot). */
function signatureOf (token: string): string {
  return token.slice(token.lastIndexOf('.') + 1)
}

/** The `kid` in a compact JWS's header (the token has been verified: the header is JSON). */
export function keyIdOf (token: string): string | undefined {
  const header = JSON.parse(Buffer.from(token.slice(0, token.indexOf('.')), 'base64url').toString('utf8')) as { kid?: unknown }
  return typeof header.kid === 'string' ? header.kid : undefined
}
