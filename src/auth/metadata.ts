import { Type, type Static } from '@sinclair/typebox'
import { paths } from '../paths.js'

/**
 * The OAuth grant types the token endpoint accepts, as advertised in the RFC 8414 metadata.
 * A new grant adds its name here.
 */
export const grantTypesSupported: string[] = ['password', 'refresh_token']

export const Jwk = Type.Object({
  kty: Type.String({ description: 'Key type: RSA, EC or OKP', examples: ['RSA'] }),
  kid: Type.String({ description: 'Key id (RFC 7638 thumbprint); tokens name it in their header' }),
  alg: Type.String({ examples: ['RS256'] }),
  use: Type.Literal('sig'),
  n: Type.Optional(Type.String({ description: 'RSA modulus' })),
  e: Type.Optional(Type.String({ description: 'RSA exponent' })),
  crv: Type.Optional(Type.String({ description: 'Curve: P-256 (EC) or Ed25519 (OKP)' })),
  x: Type.Optional(Type.String()),
  y: Type.Optional(Type.String())
}, { additionalProperties: false, description: 'A public key (RFC 7517); never private members' })

export const JwkSet = Type.Object({
  keys: Type.Array(Jwk, { description: 'Empty when tokens are signed with a shared secret (HS256)' })
}, { title: 'JwkSet', description: 'JSON Web Key Set (RFC 7517 §5)' })

export const AuthorizationServerMetadata = Type.Object({
  issuer: Type.String({ description: 'The `iss` of every access token' }),
  token_endpoint: Type.String({ format: 'uri' }),
  jwks_uri: Type.String({ format: 'uri' }),
  revocation_endpoint: Type.Optional(Type.String({ format: 'uri' })),
  revocation_endpoint_auth_methods_supported: Type.Optional(Type.Array(Type.String())),
  introspection_endpoint: Type.Optional(Type.String({ format: 'uri' })),
  grant_types_supported: Type.Array(Type.String()),
  response_types_supported: Type.Array(Type.String(), { description: 'Empty: there is no authorization endpoint' }),
  token_endpoint_auth_methods_supported: Type.Array(Type.String()),
  service_documentation: Type.String({ format: 'uri' })
}, { title: 'AuthorizationServerMetadata', description: 'OAuth 2.0 authorization server metadata (RFC 8414)' })
export type AuthorizationServerMetadataType = Static<typeof AuthorizationServerMetadata>

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
      ? { revocation_endpoint: `${publicUrl}${paths.revoke}`, revocation_endpoint_auth_methods_supported: ['none'] }
      : {}),
    ...(has.introspection ? { introspection_endpoint: `${publicUrl}${paths.introspect}` } : {}),
    grant_types_supported: [...grantTypesSupported],
    // RFC 8414 §2 requires the member; with no authorization endpoint no response_type is supported.
    response_types_supported: [],
    token_endpoint_auth_methods_supported: ['none'],
    service_documentation: `${publicUrl}/docs`
  }
}
