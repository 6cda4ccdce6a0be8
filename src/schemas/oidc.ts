import { Type } from '@sinclair/typebox'

/** No control characters (NUL would reach PostgreSQL text), bounded. */
const PLAIN = '^[^\\p{C}]*$'

export const ProviderParams = Type.Object({
  provider: Type.String({ maxLength: 64, description: 'The provider\'s name in OIDC_PROVIDERS', examples: ['auth0'] })
})

export const ProviderList = Type.Object({
  providers: Type.Array(Type.String(), { description: 'The names of the configured identity providers', examples: [['auth0']] })
}, { additionalProperties: false })

export const AuthorizeQuery = Type.Object({
  redirect_uri: Type.String({ maxLength: 2048, pattern: PLAIN, description: 'Where the browser returns: one of OIDC_REDIRECT_ALLOWLIST, exactly', examples: ['https://app.example.com/auth/callback'] }),
  state: Type.Optional(Type.String({ maxLength: 512, pattern: PLAIN, description: 'The front end\'s own CSRF state; returned to redirect_uri as it came' })),
  code_challenge: Type.String({
    pattern: '^[A-Za-z0-9_-]{43}$',
    description: 'BASE64URL(SHA-256(code_verifier)) of the front end\'s PKCE verifier (RFC 7636); the verifier goes to the token endpoint'
  }),
  code_challenge_method: Type.Literal('S256', { description: 'Only S256' })
}, { additionalProperties: false })

/** The provider's authorization response (RFC 6749 §4.1.2); providers add parameters of their own (session_state, iss…), which are kept for openid-client. */
export const CallbackQuery = Type.Object({
  state: Type.Optional(Type.String({ maxLength: 512, pattern: PLAIN })),
  code: Type.Optional(Type.String({ maxLength: 4096, pattern: PLAIN })),
  error: Type.Optional(Type.String({ maxLength: 256, pattern: PLAIN })),
  error_description: Type.Optional(Type.String({ maxLength: 2048, pattern: PLAIN }))
}, { additionalProperties: Type.String({ maxLength: 4096, pattern: PLAIN }) })
