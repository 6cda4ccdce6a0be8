import { Type, type Static } from '@sinclair/typebox'
import { Email, FullName, Password, Username, Uuid } from './common.js'

export const UserRead = Type.Object({
  id: Uuid,
  email: Type.String({ examples: ['alice@example.com'] }),
  username: Type.String({ examples: ['Alice'] }),
  full_name: Type.Union([Type.String(), Type.Null()], { examples: ['Alice Liddell'] }),
  is_active: Type.Boolean(),
  roles: Type.Array(Type.String(), { examples: [['user']] }),
  created_at: Type.String({ format: 'date-time', examples: ['2026-11-22T09:41:07.123Z'] }),
  updated_at: Type.String({ format: 'date-time', examples: ['2026-11-23T17:02:51.408Z'] })
}, { $id: 'UserRead', title: 'UserRead', additionalProperties: false })
export type UserReadType = Static<typeof UserRead>

export const UserUpdateBody = Type.Object({
  full_name: Type.Optional(Type.Union([FullName, Type.Null()])),
  email: Type.Optional(Email),
  username: Type.Optional(Username)
}, { additionalProperties: false, minProperties: 1 })

export const PasswordChangeBody = Type.Object({
  current_password: Type.String({ minLength: 1, maxLength: 1024 }),
  new_password: Password
}, { additionalProperties: false })

export const AccountDeleteBody = Type.Object({
  password: Type.String({ minLength: 1, maxLength: 1024 })
}, { additionalProperties: false })

/** What the public view is made from: its fields, with the moments as dates (a user row is one). */
type UserFields = Omit<UserReadType, 'created_at' | 'updated_at'> & { created_at: Date, updated_at: Date }

/** The public view of a user: everything but the password hash. */
export function toUserRead (user: UserFields): UserReadType {
  return {
    id: user.id,
    email: user.email,
    username: user.username,
    full_name: user.full_name,
    is_active: user.is_active,
    roles: user.roles,
    created_at: user.created_at.toISOString(),
    updated_at: user.updated_at.toISOString()
  }
}
