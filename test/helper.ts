import { Writable } from 'node:stream'
import Fastify, { type FastifyInstance, type LightMyRequestResponse } from 'fastify'
import fp from 'fastify-plugin'
import app from '../src/app.js'
import { loadConfig, type Config } from '../src/config.js'
import { serverOptions } from '../src/server-options.js'
import { createTestDatabase, type TestDatabase } from './setup/databases.js'

export { createTestDatabase, testDatabaseKind } from './setup/databases.js'

/** The `t` of a tap test, as far as the helpers need it. */
interface TestContext {
  teardown: (fn: () => unknown) => void
}

/**
 * Environment for child processes the tests spawn. Coverage is off in them: tap would record
 * the tsx-compiled sources, and merging those with the in-process ones garbles the report.
 */
export function childEnv (env: Record<string, string> = {}): Record<string, string> {
  return { PATH: process.env.PATH ?? '', _TAPJS_PROCESSINFO_COVERAGE_: '0', ...env }
}

export const baseEnv: Record<string, string> = {
  LOG_LEVEL: 'silent',
  MIGRATE_ON_START: 'false',
  PUBLIC_URL: 'http://user-service.test',
  // Most tests send many requests from one address; test/rate-limit/ turns the limits on.
  RATE_LIMIT_ENABLED: 'false'
}

export function testConfig (env: Record<string, string> = {}): Config {
  return loadConfig({ ...baseEnv, ...env })
}

/** Log lines captured from an app built with `captureLogs`. */
export class LogCapture extends Writable {
  readonly lines: string[] = []

  override _write (chunk: Buffer, _encoding: string, done: () => void): void {
    this.lines.push(...chunk.toString('utf8').split('\n').filter((line) => line !== ''))
    done()
  }

  get text (): string {
    return this.lines.join('\n')
  }

  records (): Array<Record<string, unknown>> {
    return this.lines.map((line) => JSON.parse(line) as Record<string, unknown>)
  }
}

export interface BuildOptions {
  env?: Record<string, string>
  logs?: LogCapture
  /** Reuse a database (a second instance on the same database). */
  database?: TestDatabase
}

export interface TestApp {
  app: FastifyInstance
  database: TestDatabase
  config: Config
}

/** The real app with the real server options, on a fresh database that is dropped after the test. */
export async function buildApp (t: TestContext, options: BuildOptions = {}): Promise<TestApp> {
  const env = { ...(options.logs === undefined ? {} : { LOG_LEVEL: 'info' }), ...options.env }
  const config = testConfig(env)
  const database = options.database ?? await createTestDatabase()
  const server = Fastify(serverOptions(config, options.logs))
  t.teardown(async () => {
    await server.close()
    if (options.database === undefined) await database.drop()
  })
  // fp() only lifts the app's decorators (db, tokens, ...) to where the test can reach them.
  await server.register(fp(app), { config, database: database.handle })
  await server.ready()
  return { app: server, database, config }
}

export interface Account {
  id: string
  email: string
  username: string
  password: string
  accessToken: string
}

let accountCounter = 0

/** Registers a new account through the API and returns its credentials and token. */
export async function registerAccount (app: FastifyInstance, fields: Partial<{ email: string, username: string, password: string, full_name: string }> = {}): Promise<Account> {
  accountCounter += 1
  const suffix = `${process.pid}${accountCounter}`
  const body = {
    email: `user${suffix}@example.com`,
    username: `user${suffix}`,
    password: 'correct horse battery',
    ...fields
  }
  const response = await app.inject({ method: 'POST', url: '/api/v1/auth/register', payload: body })
  if (response.statusCode !== 201) throw new Error(`register failed: ${response.statusCode} ${response.body}`)
  const json = response.json<{ user: { id: string, email: string, username: string }, access_token: string }>()
  return { id: json.user.id, email: json.user.email, username: json.user.username, password: body.password, accessToken: json.access_token }
}

export function bearer (token: string): Record<string, string> {
  return { authorization: `Bearer ${token}` }
}

export function isProblem (response: LightMyRequestResponse): boolean {
  return String(response.headers['content-type']).startsWith('application/problem+json')
}
