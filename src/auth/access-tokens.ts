import { createVerifier } from 'fast-jwt'
import type { Config } from '../config.js'
import { isMissingTable } from '../db/errors.js'
import type { Executor } from '../db/types.js'
import type { KeyStore } from './keys/key-store.js'
import { judgeUserWithSession, type SessionLookup } from './sessions/session-view.js'
import { findUserWithSession } from './sessions/sessions.repository.js'
import type { AccessTokenClaims } from './tokens.js'

export const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

/** How far ahead of this instance's clock an `iat` may be: another instance's clock may run fast. */
export const CLOCK_SKEW_SECONDS = 60

/**
 * The claims every access token must carry. A token signed with the right key but missing
 * one was not made by this service: it matters the day a key leaks, so it is refused.
 */
const REQUIRED_CLAIMS = ['iss', 'aud', 'sub', 'iat', 'exp', 'jti', 'sid']

/** fast-jwt options shared by every access-token check: the bearer gate, introspection, revocation. */
export function accessTokenVerifyOptions (jwt: Config['jwt']) {
  return {
    algorithms: [jwt.algorithm],
    allowedIss: jwt.issuer,
    allowedAud: jwt.audience,
    checkTyp: 'at+jwt',
    requiredClaims: REQUIRED_CLAIMS
  }
}

/**
 * The rules a signature check does not cover: ids shaped as ours, an `iat` that is not in the
 * future and a lifetime no longer than this service issues. Returns why the claims are
 * refused, or null when they pass.
 */
export function claimsRefusal (claims: AccessTokenClaims, jwt: Config['jwt'], nowSeconds = Date.now() / 1000): string | null {
  if (typeof claims.sub !== 'string' || !UUID_PATTERN.test(claims.sub)) return 'the access token does not name a user'
  if (typeof claims.sid !== 'string' || !UUID_PATTERN.test(claims.sid)) return 'the access token names no valid session'
  if (typeof claims.iat !== 'number' || claims.iat > nowSeconds + CLOCK_SKEW_SECONDS) return 'the access token is issued in the future'
  if (typeof claims.exp !== 'number' || claims.exp - claims.iat > jwt.expireMinutes * 60) {
    return 'the access token lives longer than this service issues tokens for'
  }
  return null
}

/**
 * Verifies an access token that arrives in a body (revocation, introspection) rather than the
 * Authorization header: its claims, or undefined for anything that is not a valid token of ours.
 */
export function bodyTokenVerifier (keys: KeyStore, jwt: Config['jwt']): (token: string) => Promise<AccessTokenClaims | undefined> {
  const verify = createVerifier({
    ...accessTokenVerifyOptions(jwt),
    key: async (decoded: { header: { kid?: unknown } }) => keys.verificationKey(decoded.header.kid)
  }) as (token: string) => Promise<AccessTokenClaims>
  return async (token) => {
    let claims: AccessTokenClaims
    try {
      claims = await verify(token)
    } catch (error) {
      // The key store could not be read (schema not migrated): not the token's fault.
      if (isMissingTable(error)) throw error
      return undefined
    }
    return claimsRefusal(claims, jwt) === null ? claims : undefined
  }
}

/**
 * Verifies a confidential client's own access token (client_credentials, RFC 9068 §2.2: no
 * `sid`, `sub` = `client_id`): its claims, or undefined. `audience` `ours`: only tokens for this
 * service (to call it); `any`: whatever audience the client was registered with (introspection).
 */
export function clientTokenVerifier (keys: KeyStore, jwt: Config['jwt'], audience: 'ours' | 'any' = 'ours'): (token: string) => Promise<AccessTokenClaims | undefined> {
  const { allowedAud, ...options } = accessTokenVerifyOptions(jwt)
  const verify = createVerifier({
    ...options,
    ...(audience === 'ours' ? { allowedAud } : {}),
    requiredClaims: REQUIRED_CLAIMS.filter((claim) => claim !== 'sid'),
    key: async (decoded: { header: { kid?: unknown } }) => keys.verificationKey(decoded.header.kid)
  }) as (token: string) => Promise<AccessTokenClaims>
  return async (token) => {
    const claims = await verify(token).catch((error: unknown) => {
      if (isMissingTable(error)) throw error
      return undefined
    })
    if (claims === undefined || claims.sid !== undefined || claims.sub !== claims.client_id) return undefined
    // The same rules as a user's token, but for the session: a client token has none.
    return claimsRefusal({ ...claims, sid: claims.sub }, jwt) === null ? claims : undefined
  }
}

/**
 * The user of a verified token read from the database, if the account still exists and is
 * active and the token's session is live; else why not. (Protected requests ask the session
 * view, which reads the same way when it cannot answer from memory.)
 */
export async function tokenUser (db: Executor, claims: AccessTokenClaims): Promise<SessionLookup> {
  // claimsRefusal has checked that `sid` is a session id.
  return judgeUserWithSession(await findUserWithSession(db, claims.sub, claims.sid as string))
}
