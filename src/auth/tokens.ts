import { randomUUID } from 'node:crypto'
import { createSigner } from 'fast-jwt'
import type { Config } from '../config.js'
import type { TokenResponseType } from '../schemas/auth.js'
import type { KeyStore, SigningKey } from './keys/key-store.js'

/** The client_id of tokens issued to the default public client (requests that name no registered client). */
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
  /** Space-separated scopes (client_credentials tokens). */
  scope?: string
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

  /**
   * A client_credentials token (RFC 6749 §4.4, RFC 9068 §2.2): the client is the subject, the
   * audience is the client's own (else JWT_AUDIENCE); no session, no roles, no refresh token.
   */
  async issueClientToken (client: { clientId: string, audience: string | null }, scopes: string[]): Promise<TokenResponseType> {
    const now = Math.floor(Date.now() / 1000)
    const sign = this.#signerFor(await this.keys.signingKey())
    const scope = scopes.join(' ')
    const accessToken = sign({
      iss: this.settings.issuer,
      aud: client.audience ?? this.settings.audience,
      sub: client.clientId,
      client_id: client.clientId,
      iat: now,
      exp: now + this.expiresInSeconds,
      jti: randomUUID(),
      roles: [],
      ...(scope === '' ? {} : { scope })
    })
    return { access_token: accessToken, token_type: 'bearer', expires_in: this.expiresInSeconds, ...(scope === '' ? {} : { scope }) }
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
