import { Type } from '@sinclair/typebox'

export const IntrospectionBody = Type.Object({
  token: Type.Optional(Type.String({ maxLength: 8192, description: 'The token to look at' })),
  token_type_hint: Type.Optional(Type.String({ maxLength: 64, description: 'access_token or refresh_token (a hint; may be ignored)' })),
  client_id: Type.Optional(Type.String({ maxLength: 256, description: 'A confidential client (client_secret_post)' })),
  client_secret: Type.Optional(Type.String({ maxLength: 256 }))
}, { description: 'RFC 7662 §2.1; other parameters are ignored' })

export const IntrospectionResponse = Type.Object({
  active: Type.Boolean(),
  sub: Type.Optional(Type.String({ examples: ['0193a8f0-6b7c-7a3e-9a51-0f1d2e3c4b5a'] })),
  exp: Type.Optional(Type.Integer({ description: 'Expiry, seconds since the epoch', examples: [1796206673] })),
  iat: Type.Optional(Type.Integer({ description: 'Issued at, seconds since the epoch', examples: [1796205773] })),
  iss: Type.Optional(Type.String({ examples: ['https://users.example.com'] })),
  aud: Type.Optional(Type.String({ examples: ['user-service'] })),
  jti: Type.Optional(Type.String({ examples: ['0193a8f1-0c2d-7e4f-8a9b-1c2d3e4f5a6b'] })),
  client_id: Type.Optional(Type.String({ examples: ['public'] })),
  token_type: Type.Optional(Type.Literal('Bearer')),
  scope: Type.Optional(Type.String()),
  roles: Type.Optional(Type.Array(Type.String(), { description: "The account's current roles", examples: [['user']] })),
  username: Type.Optional(Type.String({ examples: ['alice'] })),
  sid: Type.Optional(Type.String({ description: 'The session of the token', examples: ['0193a8f2-4b5c-7d6e-9f01-2a3b4c5d6e7f'] }))
}, { title: 'IntrospectionResponse', description: 'RFC 7662 §2.2; only `active` when the token is not active' })
