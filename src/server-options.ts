import { randomUUID } from 'node:crypto'
import type { FastifyServerOptions } from 'fastify'
import type { IncomingMessage } from 'node:http'
import type { DestinationStream } from 'pino'
import type { Config } from './config.js'
import { OneLinePerRequest, serializeError, serializeRequest } from './logging.js'
import { requestLogger } from './request-logger.js'

/** What an incoming X-Request-ID must look like to be used as the request id. */
const REQUEST_ID_PATTERN = /^[A-Za-z0-9._:-]{1,128}$/

export function requestIdFor (request: IncomingMessage): string {
  const header = request.headers['x-request-id']
  return typeof header === 'string' && REQUEST_ID_PATTERN.test(header) ? header : randomUUID()
}

/** Anything that could let someone act as a user never reaches the logs. */
export const redactedPaths = [
  'req.headers.authorization',
  'req.headers.cookie',
  'res.headers["set-cookie"]',
  '*.password',
  '*.current_password',
  '*.new_password',
  '*.access_token',
  '*.refresh_token',
  '*.client_secret',
  '*.token'
]

/** Ajv's options for every request schema (the CLI's create-admin validates with them too). */
export const ajvOptions = {
  // The contract rejects unknown fields instead of silently dropping them.
  removeAdditional: false,
  coerceTypes: false,
  allErrors: true
} as const

/** The Fastify options of the real server; tests build the app with exactly these. */
export function serverOptions (config: Config, logStream?: DestinationStream): FastifyServerOptions {
  const logger = {
    level: config.logLevel,
    redact: { paths: redactedPaths, censor: '[redacted]' },
    serializers: { req: serializeRequest, err: serializeError },
    ...(logStream === undefined ? {} : { stream: logStream })
  }
  return {
    logger,
    logController: new OneLinePerRequest(),
    childLoggerFactory: requestLogger,
    genReqId: requestIdFor,
    requestIdHeader: false,
    bodyLimit: config.bodyLimitBytes,
    // First boot of an embedded data directory (initdb, migrations, key generation) takes seconds.
    pluginTimeout: 120_000,
    trustProxy: typeof config.trustProxy === 'number' ? trustHops(config.trustProxy) : config.trustProxy,
    // plugins/graceful-close.ts answers requests that come in while closing.
    return503OnClosing: false,
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: 200 },
    ajv: { customOptions: ajvOptions }
  }
}

/** Trusts the nearest `hops` proxies, as a hop count in TRUST_PROXY asks. */
function trustHops (hops: number): (address: string, hop: number) => boolean {
  return (_address, hop) => hop < hops
}
