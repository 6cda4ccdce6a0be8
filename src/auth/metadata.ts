import { paths } from '../paths.js'
import type { AuthorizationServerMetadataType } from '../schemas/discovery.js'

/**
 * The OAuth grant types the token endpoint accepts, as advertised in the RFC 8414 metadata.
 * A new grant adds its name here.
 */
export const grantTypesSupported: string[] = ['password', 'refresh_token', 'client_credentials', 'authorization_code']

/** How clients authenticate at the token and revocation endpoints: public clients with none, confidential ones with their secret. */
const CLIENT_AUTH_METHODS = ['none', 'client_secret_basic', 'client_secret_post'] as const

export interface MetadataInput {
  issuer: string
  publicUrl: string
  /** Whether the optional endpoints exist (they come with later features). */
  has: { revocation: boolean, introspection: boolean }
}

export function authorizationServerMetadata ({ issuer, publicUrl, has }: MetadataInput): AuthorizationServerMetadataType {
  return {
    issuer,
    token_endpoint: `${publicUrl}${paths.token}`,
    jwks_uri: `${publicUrl}${paths.jwks}`,
    ...(has.revocation
      ? { revocation_endpoint: `${publicUrl}${paths.revoke}`, revocation_endpoint_auth_methods_supported: [...CLIENT_AUTH_METHODS] }
      : {}),
    ...(has.introspection
      ? { introspection_endpoint: `${publicUrl}${paths.introspect}`, introspection_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post', 'bearer'] }
      : {}),
    grant_types_supported: [...grantTypesSupported],
    // RFC 8414 §2 requires the member; with no authorization endpoint no response_type is supported.
    response_types_supported: [],
    token_endpoint_auth_methods_supported: [...CLIENT_AUTH_METHODS],
    service_documentation: `${publicUrl}/docs`
  }
}
