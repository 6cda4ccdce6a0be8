import { spawn } from 'node:child_process'
import { once } from 'node:events'
import Fastify from 'fastify'
import t from 'tap'
import app from '../src/app.js'
import { announceStart } from '../src/server.js'
import { serverOptions } from '../src/server-options.js'
import { cli } from './cli/in-process.js'
import { buildApp, childEnv, createTestDatabase, LogCapture, testConfig } from './helper.js'

/** A PostgreSQL URL nothing listens on (port 1), with a password that must never be shown. */
const UNREACHABLE = 'postgres://app:hunter2-secret@127.0.0.1:1/orders'

t.test('an unreachable PostgreSQL at start: where, why and what to check, in one line, no password', async (t) => {
  const config = testConfig({ DATABASE_URL: UNREACHABLE, DB_CONNECT_TIMEOUT_MS: '2000' })
  const server = Fastify(serverOptions(config))
  t.teardown(() => server.close())
  const error = await server.register(app, { config }).ready().then(() => undefined, (failure: unknown) => failure as Error)
  t.ok(error, 'the app does not start')
  t.match(error?.message, /^cannot use PostgreSQL at 127\.0\.0\.1:1\/orders: .*ECONNREFUSED.*; check DATABASE_URL and that the server is running/)
  t.notMatch(error?.message, /hunter2/)
  t.notMatch(error?.message, /\n/, 'one line')
})

t.test('a CLI command says the same and exits 1', async (t) => {
  const result = await cli(['migrate', 'status'], { DATABASE_URL: UNREACHABLE })
  t.equal(result.code, 1)
  t.match(result.stderr, /^user-service: cannot use PostgreSQL at 127\.0\.0\.1:1\/orders: .*ECONNREFUSED.*; check DATABASE_URL.*\n$/)
  t.notMatch(result.stderr, /hunter2/)
})

t.test('the server process prints it and exits 1', async (t) => {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
    env: childEnv({ DATABASE_URL: UNREACHABLE, DB_CONNECT_TIMEOUT_MS: '2000', PORT: '0', LOG_LEVEL: 'silent' }),
    stdio: ['ignore', 'pipe', 'pipe']
  })
  let stderr = ''
  child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString() })
  const [code] = await once(child, 'exit') as [number]
  t.equal(code, 1)
  t.match(stderr, /^user-service: failed to start: cannot use PostgreSQL at 127\.0\.0\.1:1\/orders: .*ECONNREFUSED.*\n$/)
  t.notMatch(stderr, /hunter2/)
})

t.test('a real server process with pending migrations logs that it is not ready, and keeps serving', async (t) => {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
    env: childEnv({ DATABASE_URL: 'memory://', MIGRATE_ON_START: 'false', PORT: '0', LOG_LEVEL: 'info' }),
    stdio: ['ignore', 'pipe', 'pipe']
  })
  t.teardown(() => { child.kill('SIGKILL') })
  let output = ''
  const announced = new Promise<Record<string, unknown>>((resolve, reject) => {
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString()
      const line = output.split('\n').find((candidate) => candidate.includes('user-service is listening') || candidate.includes('user-service is ready'))
      if (line !== undefined) resolve(JSON.parse(line) as Record<string, unknown>)
    })
    child.on('exit', (code) => { reject(new Error(`the server exited with ${String(code)}:\n${output}`)) })
  })
  const line = await announced
  t.equal(line.level, 40)
  t.match(line.msg, /^user-service is listening but not ready \(\/ready answers 503\): \d+ database migration\(s\) pending/)
  const url = /Server listening at (http:\/\/[^"]+)/.exec(output)?.[1] ?? ''
  t.equal((await fetch(`${url}/ready`)).status, 503, 'and /ready says the same')
})

t.test('the start log says "ready" only when /ready does', async (t) => {
  const logs = new LogCapture()
  const database = await createTestDatabase({ migrated: false })
  t.teardown(database.drop)
  const pending = await buildApp(t, { logs, database, env: { MIGRATE_ON_START: 'false' } })
  await announceStart(pending.app, pending.config)
  const notReady = logs.records().at(-1)
  t.equal(notReady?.level, 40, 'a warning')
  t.match(notReady?.msg, /^user-service is listening but not ready \(\/ready answers 503\): \d+ database migration\(s\) pending: run "user-service migrate up" or set MIGRATE_ON_START=true$/)
  t.notMatch(logs.text, /user-service is ready/)
  t.equal((await pending.app.inject({ method: 'GET', url: '/ready' })).statusCode, 503, 'as /ready says')

  const readyLogs = new LogCapture()
  const ready = await buildApp(t, { logs: readyLogs })
  await announceStart(ready.app, ready.config)
  t.match(readyLogs.records().at(-1), { level: 30, msg: 'user-service is ready', publicUrl: 'http://user-service.test' })
})
