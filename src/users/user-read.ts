import type { UserRow } from '../db/types.js'
import type { UserReadType } from '../schemas/users.js'

/** The public view of a user: everything but the password hash. */
export function toUserRead (user: UserRow): UserReadType {
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
