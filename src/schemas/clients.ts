import { Type, type Static } from '@sinclair/typebox'
import { PageCursor, PAGE_LIMIT } from './admin.js'
import { Uuid } from './common.js'

const GrantType = Type.Union([Type.Literal('password'), Type.Literal('refresh_token'), Type.Literal('client_credentials')])
const GrantTypes = Type.Array(GrantType, { minItems: 1, maxItems: 3, uniqueItems: true, description: 'password, refresh_token, client_credentials (confidential clients only)' })
const ClientName = Type.String({ minLength: 1, maxLength: 100, pattern: '^[^\\p{C}]+$', examples: ['orders-service'] })
const Audience = Type.Union([Type.String({ minLength: 1, maxLength: 200, pattern: '^[\\x21-\\x7e]+$' }), Type.Null()], {
  description: 'The `aud` of the client_credentials tokens it gets (null: JWT_AUDIENCE)'
})
/** RFC 6749 §3.3 scope-token: printable ASCII but space, " and \\. */
const Scopes = Type.Array(Type.String({ minLength: 1, maxLength: 100, pattern: '^[\\x21\\x23-\\x5b\\x5d-\\x7e]+$' }), {
  maxItems: 50, uniqueItems: true, description: 'The scopes it may ask for', examples: [['revocations:read']]
})

export const ClientRead = Type.Object({
  client_id: Uuid,
  name: Type.String(),
  type: Type.Union([Type.Literal('public'), Type.Literal('confidential')]),
  grant_types: Type.Array(Type.String()),
  audience: Type.Union([Type.String(), Type.Null()]),
  scopes: Type.Array(Type.String()),
  disabled: Type.Boolean(),
  created_at: Type.String({ format: 'date-time' }),
  updated_at: Type.String({ format: 'date-time' })
}, { $id: 'ClientRead', title: 'ClientRead', additionalProperties: false })
export type ClientReadType = Static<typeof ClientRead>

export const ClientWithSecretRead = Type.Object({
  ...ClientRead.properties,
  client_secret: Type.Optional(Type.String({ description: 'Confidential clients only; shown here once and never again' }))
}, { $id: 'ClientWithSecret', title: 'ClientWithSecret', additionalProperties: false })

export const ClientPage = Type.Object({
  items: Type.Array(Type.Ref(ClientRead), { description: 'Newest first' }),
  next_cursor: Type.Union([Type.String(), Type.Null()])
}, { $id: 'ClientPage', title: 'ClientPage', additionalProperties: false })

export const ClientQuery = Type.Object({
  limit: Type.Optional(PAGE_LIMIT),
  cursor: Type.Optional(PageCursor)
}, { additionalProperties: false })

export const ClientCreateBody = Type.Object({
  name: ClientName,
  type: Type.Union([Type.Literal('public'), Type.Literal('confidential')]),
  grant_types: GrantTypes,
  audience: Type.Optional(Audience),
  scopes: Type.Optional(Scopes)
}, { additionalProperties: false })

export const ClientUpdateBody = Type.Object({
  name: Type.Optional(ClientName),
  grant_types: Type.Optional(GrantTypes),
  audience: Type.Optional(Audience),
  scopes: Type.Optional(Scopes),
  disabled: Type.Optional(Type.Boolean({ description: 'A disabled client cannot authenticate' }))
}, { additionalProperties: false, minProperties: 1 })

interface ClientFields {
  client_id: string
  name: string
  type: 'public' | 'confidential'
  grant_types: string[]
  audience: string | null
  scopes: string[]
  disabled: boolean
  created_at: Date
  updated_at: Date
}

export function toClientRead (client: ClientFields): ClientReadType {
  return {
    client_id: client.client_id,
    name: client.name,
    type: client.type,
    grant_types: client.grant_types,
    audience: client.audience,
    scopes: client.scopes,
    disabled: client.disabled,
    created_at: client.created_at.toISOString(),
    updated_at: client.updated_at.toISOString()
  }
}
