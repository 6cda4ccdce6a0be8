import underPressure from '@fastify/under-pressure'
import type { FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { AppError } from '../src/errors.js'

/** Seconds a shed client is asked to wait. */
const RETRY_AFTER_SECONDS = 5

/** Liveness and metrics keep answering under pressure: ops need them most then. */
const NEVER_SHED = new Set(['/health', '/metrics'])

/**
 * Load shedding (@fastify/under-pressure): when the event loop lags or the heap is too big,
 * new requests get 503 `service_unavailable` with Retry-After (on the OAuth endpoints
 * `temporarily_unavailable`) instead of queueing up until everything times out.
 */
export default fp(async (app) => {
  const { maxEventLoopDelayMs, maxHeapUsedBytes, maxEventLoopUtilization } = app.config.loadShedding
  if (maxEventLoopDelayMs === 0 && maxHeapUsedBytes === 0 && maxEventLoopUtilization === 0) return
  await app.register(underPressure, {
    maxEventLoopDelay: maxEventLoopDelayMs,
    maxHeapUsedBytes,
    maxEventLoopUtilization,
    eventLoopUtilizationMode: 'interval',
    sampleInterval: 1000,
    pressureHandler: async (request: FastifyRequest, _reply: unknown, type: string, value: unknown) => {
      if (NEVER_SHED.has(request.routeOptions.url ?? '')) return
      request.log.warn({ event: 'load_shedding', type, value }, 'shedding load: request refused with 503')
      throw new AppError('service_unavailable', `the service is overloaded (${type}); try again in ${RETRY_AFTER_SECONDS} s`, {
        headers: { 'retry-after': String(RETRY_AFTER_SECONDS) }
      })
    }
  })
}, { name: 'load-shedding', dependencies: ['config', 'errors'] })
