import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdirSync, utimesSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { buildIsStale } from '../../scripts/build.js'
import { childEnv, onlyOnPGliteRun } from '../helper.js'

t.test('dist/ is stale when it was never built or a source is newer than the build stamp', async (t) => {
  const root = t.testdir({ src: { 'app.ts': '' }, plugins: {}, routes: {}, migrations: {}, 'package.json': '{}' })
  t.equal(buildIsStale(root), true, 'never built')
  mkdirSync(join(root, 'dist'))
  writeFileSync(join(root, 'dist', '.build-stamp'), '')
  const past = new Date(Date.now() - 60_000)
  for (const path of ['src/app.ts', 'src', 'plugins', 'routes', 'migrations', 'package.json']) utimesSync(join(root, path), past, past)
  t.equal(buildIsStale(root), false, 'built after every source changed')
  const future = new Date(Date.now() + 60_000)
  utimesSync(join(root, 'src', 'app.ts'), future, future)
  t.equal(buildIsStale(root), true, 'a source changed since')
})

/** Runs `node scripts/start.js ...args` until `done` says so, then stops it; returns the output. */
async function start (args: string[], env: Record<string, string>, done: (output: string) => boolean): Promise<{ output: string, code: number | null }> {
  const child = spawn(process.execPath, ['scripts/start.js', ...args], { env: childEnv(env), stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  const finished = once(child, 'exit') as Promise<[number | null]>
  for (const stream of [child.stdout, child.stderr]) {
    stream.on('data', (chunk: Buffer) => {
      output += chunk.toString()
      if (done(output)) child.kill('SIGTERM')
    })
  }
  const [code] = await finished
  return { output, code }
}

t.test('npm start says it is starting and what it waits for, then that it is ready', { skip: onlyOnPGliteRun }, async (t) => {
  const { output, code } = await start([], { DATABASE_URL: 'memory://', PORT: '0', LOG_LEVEL: 'info' }, (text) => text.includes('user-service is ready'))
  const lines = output.split('\n').filter((line) => line.startsWith('{'))
  t.match(lines[0], /"msg":"user-service is starting: creating an in-memory database, applying pending migrations"/, 'the first log line')
  t.ok(lines.some((line) => line.includes('user-service is ready')))
  t.equal(code, 0, 'SIGTERM: clean exit')
})

t.test('npm run cli passes its arguments to the CLI', { skip: onlyOnPGliteRun }, async (t) => {
  const { output, code } = await start(['cli', 'help'], {}, () => false)
  t.equal(code, 0)
  t.match(output, /^Usage: user-service <command>/m)
})
