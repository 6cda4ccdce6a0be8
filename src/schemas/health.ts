import { Type } from '@sinclair/typebox'
import { NO_STORE, REQUEST_ID, RETRY_AFTER } from './headers.js'
import { problemContent } from './responses.js'

export const Liveness = Type.Object({ status: Type.Literal('ok') }, { title: 'Liveness' })

export const ReadinessReport = Type.Object({
  status: Type.Union([Type.Literal('ready'), Type.Literal('unavailable')]),
  checks: Type.Object({
    database: Type.String({ description: 'ok or unreachable', examples: ['ok'] }),
    migrations: Type.String({ description: 'ok, pending or unknown', examples: ['ok'] }),
    breaker: Type.Optional(Type.String({ description: 'The circuit breaker\'s state when it is not closed', examples: ['open'] }))
  }),
  pending_migrations: Type.Optional(Type.Array(Type.String(), { examples: [['20261122000100_create_users']] })),
  reason: Type.Optional(Type.String({ description: 'Why the service is not ready', examples: ['the database is unreachable'] }))
}, { title: 'ReadinessReport' })

/**
 * /ready's 503 has two bodies: the readiness report, or, when the request is shed under load,
 * the problem document every route answers then. Fastify picks the serializer by media type.
 */
export const notReadyResponse = Type.Unsafe({
  description: 'Not ready (the report says why), or the service sheds load (a problem document)',
  headers: { ...REQUEST_ID, ...NO_STORE, ...RETRY_AFTER },
  content: {
    'application/json': {
      schema: ReadinessReport,
      example: {
        status: 'unavailable',
        checks: { database: 'unreachable', migrations: 'unknown', breaker: 'open' },
        reason: 'database circuit breaker open (ECONNREFUSED: connect ECONNREFUSED 127.0.0.1:5432); next probe in 7 s'
      }
    },
    ...problemContent(503)
  }
})
