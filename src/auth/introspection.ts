import { createVerifier } from 'fast-jwt'
import type { Kysely } from 'kysely'
import type { Config } from '../config.js'
import type { Database, UserRow } from '../db/types.js'
import { findUserById } from '../users/users.repository.js'
import type { KeyStore } from './keys.js'
import { findUserWithSession } from './sessions.repository.js'
import type { AccessTokenClaims } from './tokens.js'

const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

/** Roles allowed to call the introspection endpoint. */
export const INTROSPECTION_ROLES = ['service', 'admin']

/** RFC 7662 §2.2 response for an active access token. */
export interface ActiveTokenInfo {
  active: true
  sub: string
  exp: number
  iat: number
  iss: string
  aud: string
  jti: string
  client_id: string
  token_type: 'Bearer'
  roles: string[]
  username: string
  sid?: string
}

export type IntrospectionResult = ActiveTokenInfo | { active: false }

type Verify = (token: string) => Promise<AccessTokenClaims>

/**
 * Token introspection (RFC 7662): the same checks as a protected endpoint (signature with
 * the pinned algorithm, iss, aud, typ, exp, nbf), then the account must exist and be active
 * and, for a token with `sid`, the session must be live. Anything else is `{active: false}`.
 */
export class Introspector {
  readonly #verify: Verify

  constructor (private readonly db: Kysely<Database>, keys: KeyStore, jwt: Config['jwt']) {
    this.#verify = createVerifier({
      key: async (decoded: { header: { kid?: unknown } }) => keys.verificationKey(decoded.header.kid),
      algorithms: [jwt.algorithm],
      allowedIss: jwt.issuer,
      allowedAud: jwt.audience,
      checkTyp: 'at+jwt',
      requiredClaims: ['sub', 'iat', 'exp', 'jti']
    }) as Verify
  }

  async introspect (token: string): Promise<IntrospectionResult> {
    let claims: AccessTokenClaims
    try {
      claims = await this.#verify(token)
    } catch {
      return { active: false }
    }
    const user = await this.#userOf(claims)
    if (user === undefined || !user.is_active) return { active: false }
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

  async #userOf (claims: AccessTokenClaims): Promise<UserRow | undefined> {
    if (!UUID_PATTERN.test(claims.sub)) return undefined
    if (claims.sid === undefined) return findUserById(this.db, claims.sub)
    if (typeof claims.sid !== 'string' || !UUID_PATTERN.test(claims.sid)) return undefined
    const row = await findUserWithSession(this.db, claims.sub, claims.sid)
    return row?.session_live === true ? row : undefined
  }
}
