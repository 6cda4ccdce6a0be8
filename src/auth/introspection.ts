import type { Kysely } from 'kysely'
import type { Config } from '../config.js'
import type { Database } from '../db/types.js'
import { bodyTokenVerifier, clientTokenVerifier, tokenUser } from './access-tokens.js'
import { findClient } from './clients/clients.repository.js'
import type { KeyStore } from './keys/key-store.js'
import type { AccessTokenClaims } from './tokens.js'

/** Roles allowed to call the introspection endpoint. */
export const INTROSPECTION_ROLES = ['service', 'admin']

/** What RFC 7662 §2.2 answers for any active access token of this service. */
interface ActiveToken {
  active: true
  sub: string
  exp: number
  iat: number
  iss: string
  aud: string
  jti: string
  client_id: string
  token_type: 'Bearer'
}

/** A user's token: the account's current roles and name, and its session. */
export interface ActiveTokenInfo extends ActiveToken {
  roles: string[]
  username: string
  sid?: string
}

/** A client_credentials token: the client is its subject; no account, no session. */
export interface ActiveClientTokenInfo extends ActiveToken {
  scope?: string
}

export type IntrospectionResult = ActiveTokenInfo | ActiveClientTokenInfo | { active: false }

/**
 * Token introspection (RFC 7662): the same checks as a protected endpoint (signature with
 * the pinned algorithm, iss, aud, typ, exp, nbf), then the account must exist and be active
 * and, for a token with `sid`, the session must be live. A confidential client's own token
 * (client_credentials, any audience it was registered with) is active while its client is
 * registered and enabled. Anything else is `{active: false}`.
 */
export class Introspector {
  readonly #verify: (token: string) => Promise<AccessTokenClaims | undefined>
  readonly #verifyClientToken: (token: string) => Promise<AccessTokenClaims | undefined>

  constructor (private readonly db: Kysely<Database>, keys: KeyStore, jwt: Config['jwt']) {
    this.#verify = bodyTokenVerifier(keys, jwt)
    this.#verifyClientToken = clientTokenVerifier(keys, jwt, 'any')
  }

  async introspect (token: string): Promise<IntrospectionResult> {
    const claims = await this.#verify(token)
    if (claims === undefined) return this.#introspectClientToken(token)
    const found = await tokenUser(this.db, claims)
    if ('refusal' in found) return { active: false }
    const { user } = found
    return {
      active: true,
      sub: claims.sub,
      exp: claims.exp,
      iat: claims.iat,
      iss: claims.iss,
      aud: claims.aud,
      jti: claims.jti,
      client_id: claims.client_id,
      token_type: 'Bearer',
      roles: user.roles,
      username: user.username,
      ...(typeof claims.sid === 'string' ? { sid: claims.sid } : {})
    }
  }

  /** A client's own token is active while it verifies and its client exists and is enabled. */
  async #introspectClientToken (token: string): Promise<IntrospectionResult> {
    const claims = await this.#verifyClientToken(token)
    if (claims === undefined) return { active: false }
    const client = await findClient(this.db, claims.client_id)
    if (client === undefined || client.disabled) return { active: false }
    const { sub, exp, iat, iss, aud, jti, client_id: clientId, scope } = claims
    return { active: true, sub, exp, iat, iss, aud, jti, client_id: clientId, token_type: 'Bearer', ...(scope === undefined ? {} : { scope }) }
  }
}
