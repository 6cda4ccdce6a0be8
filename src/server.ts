import { existsSync } from 'node:fs'
import { join } from 'node:path'
import closeWithGrace from 'close-with-grace'
import Fastify, { type FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import pino from 'pino'
import app from './app.js'
import { ConfigError, loadConfig, type Config } from './config.js'
import { describePostgresUrl } from './db/connect.js'
import { DataDirInUseError } from './db/data-dir.js'
import { errorMessage } from './error-message.js'
import { TurnBatchedDestination } from './log-destination.js'
import { serverOptions } from './server-options.js'

/** Starts the service and stops it cleanly on SIGINT/SIGTERM. */
export async function serve (config: Config): Promise<void> {
  // One write per event-loop turn (src/log-destination.ts); what a turn left pending is
  // written when the process exits (SIGTERM, a crash handled by close-with-grace).
  const logDestination = new TurnBatchedDestination(pino.destination({ dest: 1, sync: true }))
  process.once('exit', () => { logDestination.flushSync() })
  const server = Fastify(serverOptions(config, logDestination))
  server.log.info({ database: config.database.kind }, `user-service is starting: ${startingWith(config)}`)
  // fp() lifts the app's decorators (readiness, db, ...) to the server, as test/helper.ts does,
  // so tests and production run the very same shape.
  try {
    await server.register(fp(app), { config })
  } catch (error) {
    await closeAfterFailedStart(server)
    throw error
  }

  closeWithGrace({ delay: 10_000 }, async ({ signal, err }) => {
    if (err !== undefined) server.log.error({ err }, 'shutting down after an unexpected error')
    else server.log.info({ signal }, 'shutting down')
    await server.close()
  })

  try {
    await server.listen({ port: config.port, host: config.host })
  } catch (error) {
    await closeAfterFailedStart(server)
    throw error
  }
  await announceStart(server, config)
}

/** The database may be open by now (holding DATA_DIR's lock): close what opened before the process exits. */
async function closeAfterFailedStart (server: FastifyInstance): Promise<void> {
  await server.close().catch((error: unknown) => { server.log.warn({ err: error }, 'closing after a failed start') })
}

/** What start-up waits for, so a slow first start says why. */
function startingWith (config: Config): string {
  const migrations = config.migrateOnStart ? ', applying pending migrations' : ''
  const { database } = config
  if (database.kind === 'postgres') return `connecting to PostgreSQL at ${describePostgresUrl(database.url)}${migrations}`
  if (database.dataDir === null) return `creating an in-memory database${migrations}`
  const fresh = !existsSync(join(database.dataDir, 'PG_VERSION'))
  return `${fresh ? 'creating' : 'opening'} the embedded database in DATA_DIR=${database.dataDir}` +
    `${fresh ? ' (a new one takes several seconds)' : ''}${migrations}`
}

/** Says "ready" only when /ready would: otherwise what is missing and what to do. */
export async function announceStart (server: FastifyInstance, config: Config): Promise<void> {
  const where = { publicUrl: config.publicUrl, database: config.database.kind, docs: `${config.publicUrl}/docs` }
  const readiness = await server.readiness.check()
  if (readiness.ready) server.log.info(where, 'user-service is ready')
  else server.log.warn({ ...where, checks: readiness.checks }, `user-service is listening but not ready (/ready answers 503): ${readiness.reason ?? 'see /ready'}`)
}

export function loadConfigOrExit (): Config {
  try {
    return loadConfig(process.env, { dotenv: true })
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`user-service: ${error.message}\n`)
      process.exit(2)
    }
    throw error
  }
}

const isEntry = import.meta.url === new URL(process.argv[1] ?? '', 'file://').href
if (isEntry) {
  serve(loadConfigOrExit()).catch((error: unknown) => {
    process.stderr.write(`user-service: failed to start: ${errorMessage(error)}\n`)
    // 4: DATA_DIR in use, as for the CLI (see its usage text).
    process.exit(error instanceof DataDirInUseError ? 4 : 1)
  })
}
