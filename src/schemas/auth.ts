import { Type, type Static } from '@sinclair/typebox'
import { Email, FullName, Password, Username } from './common.js'
import { UserRead } from './users.js'

export const RegisterBody = Type.Object({
  email: Email,
  username: Username,
  password: Password,
  full_name: Type.Optional(Type.Union([FullName, Type.Null()]))
}, { additionalProperties: false })
export type RegisterBodyType = Static<typeof RegisterBody>

export const RefreshToken = Type.String({ minLength: 1, maxLength: 512, description: 'An opaque refresh token', examples: ['33kpbqBP47ZDpjnda_7LWSUNyeJ2pkll7D1k-eviUFo'] })

export const RefreshBody = Type.Object({
  refresh_token: RefreshToken
}, { additionalProperties: false })

export const LoginBody = Type.Object({
  login: Type.String({ minLength: 1, maxLength: 320, description: 'Email or username, any case' }),
  password: Type.String({ minLength: 1, maxLength: 1024 })
}, { additionalProperties: false })

const tokenFields = {
  access_token: Type.String({
    description: 'JWT access token (RFC 9068, typ at+jwt)',
    examples: ['eyJhbGciOiJSUzI1NiIsInR5cCI6ImF0K2p3dCIsImtpZCI6InpvVWN3M2ttIn0.eyJzdWIiOiIwMTkzYThmMCJ9.c2lnbmF0dXJl']
  }),
  token_type: Type.Literal('bearer'),
  expires_in: Type.Integer({ description: 'Lifetime of the access token in seconds (JWT_EXPIRE_MINUTES)', examples: [900] }),
  refresh_token: Type.Optional(Type.String({
    description: 'Opaque; works once: the answer to a refresh carries its successor',
    examples: ['33kpbqBP47ZDpjnda_7LWSUNyeJ2pkll7D1k-eviUFo']
  }))
}

export const TokenResponse = Type.Object({
  ...tokenFields,
  scope: Type.Optional(Type.String())
}, { $id: 'TokenResponse', title: 'TokenResponse' })
export type TokenResponseType = Static<typeof TokenResponse>

export const AuthResponse = Type.Object({
  user: Type.Ref(UserRead),
  ...tokenFields
}, { $id: 'AuthResponse', title: 'AuthResponse' })

/**
 * The OAuth2 token request (RFC 6749 §4.3). Fields are loose strings on purpose: the
 * endpoint itself answers RFC 6749 errors (unsupported_grant_type, invalid_request), and
 * unrecognised parameters are ignored as RFC 6749 §3.2 requires.
 */
export const TokenRequestBody = Type.Object({
  grant_type: Type.Optional(Type.String({ maxLength: 64, description: 'password, refresh_token, client_credentials or authorization_code', examples: ['password'] })),
  username: Type.Optional(Type.String({ maxLength: 320, description: 'Email or username' })),
  password: Type.Optional(Type.String({ maxLength: 1024 })),
  scope: Type.Optional(Type.String({ maxLength: 1024 })),
  client_id: Type.Optional(Type.String({ maxLength: 256 })),
  client_secret: Type.Optional(Type.String({ maxLength: 256 })),
  refresh_token: Type.Optional(Type.String({ maxLength: 512, description: 'With grant_type=refresh_token' })),
  code: Type.Optional(Type.String({ maxLength: 512, description: 'With grant_type=authorization_code: the one-time code of an external sign-in' })),
  code_verifier: Type.Optional(Type.String({ maxLength: 128, description: 'With grant_type=authorization_code: the PKCE verifier of the code_challenge sent to /auth/oidc/{provider}/authorize' })),
  redirect_uri: Type.Optional(Type.String({ maxLength: 2048, description: 'With grant_type=authorization_code: the redirect_uri sent to /authorize' }))
})

/** RFC 7009 revocation request; unrecognised parameters are ignored as on the token endpoint. */
export const RevokeRequestBody = Type.Object({
  token: Type.Optional(Type.String({ maxLength: 4096, description: 'A refresh token or an access token' })),
  token_type_hint: Type.Optional(Type.String({ maxLength: 64, examples: ['refresh_token', 'access_token'] })),
  client_id: Type.Optional(Type.String({ maxLength: 256 })),
  client_secret: Type.Optional(Type.String({ maxLength: 256 }))
})

export const OAuthErrorBody = Type.Object({
  error: Type.String({ examples: ['invalid_grant'] }),
  error_description: Type.Optional(Type.String({ examples: ['the username or the password is not correct'] }))
}, { $id: 'OAuthError', title: 'OAuthError', description: 'RFC 6749 §5.2 error response' })
