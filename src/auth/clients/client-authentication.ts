import type { Kysely } from 'kysely'
import type { Database, OAuthClientRow } from '../../db/types.js'
import { OAuthError } from '../../errors.js'
import { UUID_PATTERN } from '../access-tokens.js'
import type { LoginThrottle } from '../login-throttle.js'
import { grantTypesSupported } from '../metadata.js'
import type { ClientContext } from '../sessions/sessions.service.js'
import { PUBLIC_CLIENT_ID } from '../tokens.js'
import { clientSecretMatches } from './client-secrets.js'
import { findClientWithSecret } from './clients.repository.js'

/** What a request says about its client: `Authorization: Basic` (client_secret_basic) or body fields (client_secret_post). */
export interface PresentedClient {
  id?: string | undefined
  secret?: string | undefined
}

/** The client a request comes from, once authenticated (or the default public client). */
export interface AuthenticatedClient {
  clientId: string
  type: 'public' | 'confidential'
  grantTypes: readonly string[]
  audience: string | null
  scopes: readonly string[]
}

/**
 * The client of every request that names no registered client: public, with the grants a
 * front end or Swagger UI needs. Swagger UI, simple-oauth2 (`id:undefined`) and authlib
 * (`id:None`) send a client id of their own, or none, and a secret or none: they land here.
 */
export const DEFAULT_PUBLIC_CLIENT: AuthenticatedClient = {
  clientId: PUBLIC_CLIENT_ID,
  type: 'public',
  // authorization_code: the one-time code of a sign-in through an external identity provider.
  grantTypes: ['password', 'refresh_token', 'authorization_code'],
  audience: null,
  scopes: []
}

export const BASIC_CHALLENGE = { 'www-authenticate': 'Basic realm="user-service"' }

export function invalidClient (description: string): OAuthError {
  return new OAuthError('invalid_client', description, 401, BASIC_CHALLENGE)
}

function asClient (row: OAuthClientRow): AuthenticatedClient {
  return { clientId: row.client_id, type: row.type, grantTypes: row.grant_types, audience: row.audience, scopes: row.scopes }
}

/**
 * OAuth client authentication (RFC 6749 §2.3.1). A confidential client must prove its secret
 * (compared in constant time; wrong guesses are throttled like wrong passwords, under the
 * client's id); a public client, or an id that is not registered, ignores whatever secret is sent.
 */
export class ClientAuthenticator {
  constructor (private readonly db: Kysely<Database>, private readonly throttle: LoginThrottle) {}

  async authenticate (presented: PresentedClient, context: ClientContext): Promise<AuthenticatedClient> {
    const id = presented.id
    if (id === undefined || !UUID_PATTERN.test(id)) return DEFAULT_PUBLIC_CLIENT
    const row = await findClientWithSecret(this.db, id.toLowerCase())
    if (row === undefined) return DEFAULT_PUBLIC_CLIENT
    if (row.type === 'confidential') await this.#proveSecret(row, presented.secret, context)
    if (row.disabled) throw invalidClient('this client is disabled')
    return asClient(row)
  }

  /** A confidential client: throws invalid_client unless `secret` is its secret. */
  async #proveSecret (row: OAuthClientRow, secret: string | undefined, context: ClientContext): Promise<void> {
    if (secret === undefined || secret === '') throw invalidClient('this client is confidential: authenticate with its client_secret')
    const login = `client:${row.client_id}`
    const attempt = await this.throttle.begin(login, context.ip)
    if (!clientSecretMatches(secret, row.secret_hash ?? '')) {
      attempt.failed()
      throw invalidClient('the client_secret is not correct')
    }
    attempt.succeeded({ email: login, username: login })
  }
}

/** Refuses a grant this service does not have (unsupported_grant_type) or the client was not registered for (unauthorized_client, RFC 6749 §5.2). */
export function authorizeGrant (client: AuthenticatedClient, grantType: string): void {
  if (!grantTypesSupported.includes(grantType)) {
    throw new OAuthError('unsupported_grant_type', `grant_type "${grantType}" is not supported; use one of ${grantTypesSupported.join(', ')}`)
  }
  if (client.grantTypes.includes(grantType)) return
  throw new OAuthError('unauthorized_client', grantType === 'client_credentials' && client.type === 'public'
    ? 'client_credentials needs a confidential client and its client_secret'
    : `this client may not use the ${grantType} grant`)
}

/** The scopes a client_credentials token gets: those asked for, all of them the client's; none asked, all it has (RFC 6749 §3.3). */
export function grantedScopes (client: AuthenticatedClient, requested: string | undefined): string[] {
  if (requested === undefined) return [...client.scopes]
  const scopes = [...new Set(requested.split(' ').filter((scope) => scope !== ''))]
  const refused = scopes.filter((scope) => !client.scopes.includes(scope))
  if (refused.length > 0) throw new OAuthError('invalid_scope', `this client may not ask for: ${refused.join(' ')}`)
  return scopes
}
