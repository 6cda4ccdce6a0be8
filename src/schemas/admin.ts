import { Type, type Static } from '@sinclair/typebox'
import { Email, FullName, Password, Username } from './common.js'
import { UserRead } from './users.js'

/** The roles an account can hold. */
export const ROLES = ['user', 'admin', 'service'] as const

export const Role = Type.Union(ROLES.map((role) => Type.Literal(role)), { description: 'user, admin or service' })

const Roles = Type.Array(Role, { uniqueItems: true, maxItems: ROLES.length, description: 'Every role the account holds, replacing the old list' })

/** 1–200 as the query string spells it (query values are not coerced: "7" stays a string). */
const LIMIT_PATTERN = '^(?:[1-9]|[1-9][0-9]|1[0-9][0-9]|200)$'

export const PageCursor = Type.String({
  minLength: 1,
  maxLength: 200,
  pattern: '^[A-Za-z0-9_-]+$',
  description: 'The `next_cursor` of the previous page, as it came'
})

export const AdminUserQuery = Type.Object({
  q: Type.Optional(Type.String({ minLength: 1, maxLength: 320, description: 'The start of the email or the username, any case' })),
  role: Type.Optional(Role),
  active: Type.Optional(Type.Union([Type.Literal('true'), Type.Literal('false')], { description: 'Only active (true) or disabled (false) accounts' })),
  limit: Type.Optional(Type.String({ pattern: LIMIT_PATTERN, description: 'Accounts per page, 1–200 (50)', examples: ['50'] })),
  cursor: Type.Optional(PageCursor)
}, { additionalProperties: false })
export type AdminUserQueryType = Static<typeof AdminUserQuery>

export const UserPage = Type.Object({
  items: Type.Array(Type.Ref(UserRead), { description: 'Newest first' }),
  next_cursor: Type.Union([Type.String(), Type.Null()], { description: 'Pass as `cursor` for the next page; null on the last page' })
}, { $id: 'UserPage', title: 'UserPage', additionalProperties: false })

export const AdminUserCreateBody = Type.Object({
  email: Email,
  username: Username,
  password: Type.Optional(Password),
  full_name: Type.Optional(Type.Union([FullName, Type.Null()])),
  roles: Type.Optional(Roles),
  is_active: Type.Optional(Type.Boolean())
}, { additionalProperties: false })
export type AdminUserCreateType = Static<typeof AdminUserCreateBody>

export const AdminUserUpdateBody = Type.Object({
  email: Type.Optional(Email),
  username: Type.Optional(Username),
  full_name: Type.Optional(Type.Union([FullName, Type.Null()])),
  roles: Type.Optional(Roles),
  is_active: Type.Optional(Type.Boolean({ description: 'false disables the account and ends every session of it at once' }))
}, { additionalProperties: false, minProperties: 1 })
export type AdminUserUpdateType = Static<typeof AdminUserUpdateBody>

export const AdminPasswordBody = Type.Object({
  new_password: Password
}, { additionalProperties: false })

/** The page size when the query names none. */
export const DEFAULT_PAGE_SIZE = 50
