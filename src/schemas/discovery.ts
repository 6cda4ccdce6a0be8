import { Type, type Static } from '@sinclair/typebox'

/* The documents other services discover this one by: its public keys and its OAuth metadata. */

/** The modulus of a real 2048-bit key (the `kid` example is its thumbprint). */
const RSA_MODULUS_EXAMPLE = 'lOMvumy6hq763-Hg6NT3a-DC0-l9Wx5rT8JGfZrkXSyOAUieU_9jVxSOGYWur3Z3_2ERcxdf7QK2ShEG1sNw6Ol6L5-Ocmzt5cM82DiL0uia-VjA87' +
  'LGN2gWWUFDD2-X2ZyP8wiAmv8A6M4CKCWJjvLso0fEEHVYleUzVpajbs-Roe4IiRXEfCTjX2ZyjCUUQHxQ93Gz1BSPPxJinA1rMEu_lmhBW9qeQyhw' +
  'hS-JjmTXRTC4B_uaUwLayGvz5B-0jiWCwM8HKt3on8rafc6k7gYjB49N1nT2q821WO6sdtQDKNVcxyXAdS3e_4IbnBLJqT22LuiMGCVhnZLGSs_prQ'

export const Jwk = Type.Object({
  kty: Type.String({ description: 'Key type: RSA, EC or OKP', examples: ['RSA'] }),
  kid: Type.String({ description: 'Key id (RFC 7638 thumbprint); tokens name it in their header', examples: ['zoUcw3kmqWBJWMSCiJ4sPUGzS4fT2Jn2FYpFXzSqMo8'] }),
  alg: Type.String({ examples: ['RS256'] }),
  use: Type.Literal('sig'),
  n: Type.Optional(Type.String({ description: 'RSA modulus (base64url)', examples: [RSA_MODULUS_EXAMPLE] })),
  e: Type.Optional(Type.String({ description: 'RSA exponent', examples: ['AQAB'] })),
  crv: Type.Optional(Type.String({ description: 'Curve: P-256 (EC) or Ed25519 (OKP)', examples: ['P-256'] })),
  x: Type.Optional(Type.String({ description: 'EC or OKP x coordinate (base64url)', examples: ['f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU'] })),
  y: Type.Optional(Type.String({ description: 'EC y coordinate (base64url)', examples: ['x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0'] }))
}, { additionalProperties: false, description: 'A public key (RFC 7517); never private members' })

export const JwkSet = Type.Object({
  keys: Type.Array(Jwk, { description: 'Empty when tokens are signed with a shared secret (HS256)' })
}, { title: 'JwkSet', description: 'JSON Web Key Set (RFC 7517 §5)' })

export const AuthorizationServerMetadata = Type.Object({
  issuer: Type.String({ description: 'The `iss` of every access token', examples: ['https://users.example.com'] }),
  token_endpoint: Type.String({ format: 'uri', examples: ['https://users.example.com/api/v1/auth/token'] }),
  jwks_uri: Type.String({ format: 'uri', examples: ['https://users.example.com/.well-known/jwks.json'] }),
  revocation_endpoint: Type.Optional(Type.String({ format: 'uri', examples: ['https://users.example.com/api/v1/auth/revoke'] })),
  revocation_endpoint_auth_methods_supported: Type.Optional(Type.Array(Type.String(), { examples: [['none', 'client_secret_basic', 'client_secret_post']] })),
  introspection_endpoint: Type.Optional(Type.String({ format: 'uri', examples: ['https://users.example.com/api/v1/auth/introspect'] })),
  introspection_endpoint_auth_methods_supported: Type.Optional(Type.Array(Type.String(), { examples: [['client_secret_basic', 'client_secret_post', 'bearer']] })),
  grant_types_supported: Type.Array(Type.String(), { examples: [['password', 'refresh_token', 'client_credentials']] }),
  response_types_supported: Type.Array(Type.String(), { description: 'Empty: there is no authorization endpoint', examples: [[]] }),
  token_endpoint_auth_methods_supported: Type.Array(Type.String(), { examples: [['none', 'client_secret_basic', 'client_secret_post']] }),
  service_documentation: Type.String({ format: 'uri', examples: ['https://users.example.com/docs'] })
}, { title: 'AuthorizationServerMetadata', description: 'OAuth 2.0 authorization server metadata (RFC 8414)' })
export type AuthorizationServerMetadataType = Static<typeof AuthorizationServerMetadata>
