/** The versioned API's base path: every API URL starts with it (the well-known documents do not). */
export const API_PREFIX = '/api/v1'

/** The paths other code builds URLs from: routes, `Location`, the metadata, the OpenAPI document. */
export const paths = {
  auth: `${API_PREFIX}/auth`,
  token: `${API_PREFIX}/auth/token`,
  revoke: `${API_PREFIX}/auth/revoke`,
  introspect: `${API_PREFIX}/auth/introspect`,
  user: (id: string) => `${API_PREFIX}/users/${id}`,
  adminUser: (id: string) => `${API_PREFIX}/admin/users/${id}`,
  jwks: '/.well-known/jwks.json',
  authorizationServerMetadata: '/.well-known/oauth-authorization-server'
} as const
