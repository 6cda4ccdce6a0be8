import { Type } from '@sinclair/typebox'

export const Uuid = Type.String({ format: 'uuid', description: 'A UUID', examples: ['0193a8f0-6b7c-7a3e-9a51-0f1d2e3c4b5a'] })

export const Email = Type.String({
  minLength: 3,
  maxLength: 320,
  // Surrounding spaces are allowed: the service trims and lower-cases the address. Inside it,
  // no whitespace, control, format (zero-width, bidi overrides), private-use or unassigned
  // characters (\p{C}, \p{Z}): they make look-alike addresses, and PostgreSQL's [:space:]
  // (the table's CHECK) is wider than JavaScript's \s.
  pattern: '^\\s*[^\\s@\\p{C}\\p{Z}]+@[^\\s@\\p{C}\\p{Z}]+\\.[^\\s@\\p{C}\\p{Z}]+\\s*$',
  description: 'An email address; trimmed and lower-cased before it is stored or compared',
  examples: ['alice@example.com']
})

export const Username = Type.String({
  minLength: 3,
  maxLength: 32,
  pattern: '^[A-Za-z0-9_.-]+$',
  description: '3-32 characters of A-Z a-z 0-9 _ . -; unique regardless of case',
  examples: ['alice']
})

/** NIST SP 800-63B §3.1.1.2: never fewer than 8 characters (PASSWORD_MIN_LENGTH may ask for more). */
export const PASSWORD_MIN_LENGTH_FLOOR = 8
export const PASSWORD_MAX_LENGTH = 128

/** A new password. The schema holds the fixed bounds; the password policy (src/auth/password-policy.ts) the rest. */
export const Password = Type.String({
  minLength: PASSWORD_MIN_LENGTH_FLOOR,
  maxLength: PASSWORD_MAX_LENGTH,
  description: 'PASSWORD_MIN_LENGTH (8 unless configured higher) to 128 characters, counted after Unicode NFKC ' +
    'normalisation; any characters but NUL; never truncated; no composition rules. Refused with 400 validation_failed ' +
    'naming this field and the reason: one of the most common passwords (any case), or a password containing ' +
    'the username or the part of the email before the @',
  examples: ['correct horse battery staple']
})

export const FullName = Type.String({ maxLength: 200, description: 'Display name, up to 200 characters', examples: ['Alice Liddell'] })

const FieldError = Type.Object({
  path: Type.String({ description: 'JSON Pointer to the offending field, e.g. /email' }),
  message: Type.String()
})

/** RFC 9457 problem details, as every non-OAuth endpoint answers errors. */
export const Problem = Type.Object({
  type: Type.String({ examples: ['about:blank'] }),
  title: Type.String(),
  status: Type.Integer(),
  detail: Type.String(),
  instance: Type.String(),
  code: Type.String({ description: 'Stable machine-readable code, e.g. email_taken' }),
  request_id: Type.String(),
  errors: Type.Optional(Type.Array(FieldError))
}, { $id: 'Problem', title: 'Problem', description: 'RFC 9457 problem details (application/problem+json)' })

/** OpenAPI security requirement of protected operations: either scheme will do. */
export const bearerSecurity: Array<Record<string, string[]>> = [{ OAuth2PasswordBearer: [] }, { bearerAuth: [] }]

/** The token and revocation endpoints: anyone (a public client), or a confidential client with its credentials. */
export const optionalClientSecurity: Array<Record<string, string[]>> = [{}, { clientBasic: [] }]

/** Introspection: a confidential client's credentials, or the bearer token of a service or admin account. */
export const clientOrBearerSecurity: Array<Record<string, string[]>> = [{ clientBasic: [] }, ...bearerSecurity]
