import { randomUUID } from 'node:crypto'
import { createSigner } from 'fast-jwt'
import type { Config } from '../config.js'
import type { TokenResponseType } from '../schemas/auth.js'
import type { KeyStore, SigningKey } from './keys/key-store.js'

/** Every client of the token endpoint is public (no client authentication, RFC 6749 §2.1). */
export const PUBLIC_CLIENT_ID = 'public'

/** The claims of an access token (RFC 9068 §2.2 plus `roles`). */
export interface AccessTokenClaims {
  iss: string
  aud: string
  sub: string
  client_id: string
  iat: number
  exp: number
  jti: string
  roles: string[]
  /** The session the token belongs to; ending the session refuses the token here at once. */
  sid?: string
}

type Signer = (payload: AccessTokenClaims) => string

/** Mints access tokens: JWTs with header `typ: at+jwt`, signed by the key store's current key. */
export class TokenService {
  /** One prepared signer per key (parsing a PEM key per token would be wasted work). */
  #signers = new Map<string, Signer>()

  constructor (
    private readonly keys: KeyStore,
    private readonly settings: Config['jwt']
  ) {}

  get expiresInSeconds (): number {
    return this.settings.expireMinutes * 60
  }

  async issueAccessToken (user: { id: string, roles: string[] }, sessionId?: string): Promise<TokenResponseType> {
    const now = Math.floor(Date.now() / 1000)
    const sign = this.#signerFor(await this.keys.signingKey())
    const accessToken = sign({
      iss: this.settings.issuer,
      aud: this.settings.audience,
      sub: user.id,
      client_id: PUBLIC_CLIENT_ID,
      iat: now,
      exp: now + this.expiresInSeconds,
      jti: randomUUID(),
      roles: user.roles,
      ...(sessionId === undefined ? {} : { sid: sessionId })
    })
    return { access_token: accessToken, token_type: 'bearer', expires_in: this.expiresInSeconds }
  }

  #signerFor (key: SigningKey): Signer {
    const cacheKey = key.kid ?? key.algorithm
    let signer = this.#signers.get(cacheKey)
    if (signer === undefined) {
      signer = createSigner<AccessTokenClaims>({
        key: key.privateKey,
        algorithm: key.algorithm,
        ...(key.kid === undefined ? {} : { kid: key.kid }),
        header: { alg: key.algorithm, typ: 'at+jwt' }
      }) as Signer
      this.#signers.set(cacheKey, signer)
    }
    return signer
  }
}
