import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { AUDIT_ACTIONS } from '../../../src/audit/events.js'
import { DEFAULT_PAGE_SIZE } from '../../../src/schemas/admin.js'
import { AuditEventPage, auditQuery, toAuditEventRead } from '../../../src/schemas/audit.js'
import { ADMIN_ONLY, protectedResponses } from '../../../src/schemas/responses.js'
import { adminOperation } from './operation.js'

const auditEventRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get('/', {
    schema: {
      ...adminOperation('adminListAuditEvents', 'Audit events, newest first, a page at a time'),
      description: 'Kept AUDIT_RETENTION_DAYS (90). `user_id` matches events done by or to the account.',
      querystring: auditQuery(Object.keys(AUDIT_ACTIONS)),
      response: {
        200: protectedResponses.json(Type.Ref(AuditEventPage), 'A page of events'),
        ...protectedResponses.errors(400, 401, ADMIN_ONLY, 500, 503)
      }
    }
  }, async (request) => {
    const { user_id: userId, action, since, limit, cursor } = request.query
    const page = await app.auditLog.page({
      limit: limit === undefined ? DEFAULT_PAGE_SIZE : Number(limit),
      action,
      userId,
      since: since === undefined ? undefined : new Date(since)
    }, cursor)
    return { items: page.items.map(toAuditEventRead), next_cursor: page.nextCursor }
  })
}

export default auditEventRoutes
