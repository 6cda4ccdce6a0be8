import { Type } from '@sinclair/typebox'
import { bearerSecurity, Uuid } from '../../../src/schemas/common.js'

/** The OpenAPI fields every admin operation shares: its tag, id, summary and the bearer security. */
export function adminOperation (operationId: string, summary: string): { tags: string[], operationId: string, summary: string, security: typeof bearerSecurity } {
  return { tags: ['admin'], operationId, summary, security: bearerSecurity }
}

export const UserId = Type.Object({ id: Uuid }, { additionalProperties: false })

export const ClientId = Type.Object({ client_id: Uuid }, { additionalProperties: false })
