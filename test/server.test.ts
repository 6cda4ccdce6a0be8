import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { join } from 'node:path'
import t from 'tap'
import { childEnv, onlyOnPGliteRun } from './helper.js'
import { startServerProcess as startServer } from './server-process.js'

async function stop (child: ChildProcess): Promise<number | null> {
  const exited = once(child, 'exit')
  child.kill('SIGTERM')
  const [code] = await exited as [number | null]
  return code
}

t.test('npm start with no configuration: embedded database that survives a restart', { skip: onlyOnPGliteRun }, async (t) => {
  const dataDir = join(t.testdir(), 'data')
  const credentials = { email: 'persist@example.com', username: 'persist', password: 'correct horse battery' }

  const first = await startServer({ DATA_DIR: dataDir })
  t.teardown(() => { first.child.kill('SIGKILL') })
  const ready = await fetch(`${first.url}/ready`)
  t.equal(ready.status, 200)
  const register = await fetch(`${first.url}/api/v1/auth/register`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(credentials)
  })
  t.equal(register.status, 201)
  const { access_token: firstToken } = await register.json() as { access_token: string }
  t.equal(await stop(first.child), 0, 'SIGTERM: clean exit 0')
  t.match(first.output(), /shutting down/)

  const second = await startServer({ DATA_DIR: dataDir })
  t.teardown(() => { second.child.kill('SIGKILL') })
  const me = await fetch(`${second.url}/api/v1/users/me`, { headers: { authorization: `Bearer ${firstToken}` } })
  t.equal(me.status, 200, 'a token from before the restart is still accepted')
  const login = await fetch(`${second.url}/api/v1/auth/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'password', username: credentials.username, password: credentials.password })
  })
  t.equal(login.status, 200, 'the user is still there')
  t.equal(await stop(second.child), 0)
  const lines = second.output().split('\n').filter((line) => line.startsWith('{')).map((line) => JSON.parse(line) as { msg: string, req?: { url: string } })
  t.ok(lines.some((line) => line.msg === 'request completed' && line.req?.url === '/api/v1/users/me'), 'one line per request, on stdout')
  t.equal(lines.at(-1)?.msg, 'shutting down', 'every line is out when the process has exited')
})

t.test('a bad configuration value exits non-zero naming the variable', { skip: onlyOnPGliteRun }, async (t) => {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
    env: childEnv({ PORT: 'not-a-port', DATA_DIR: join(t.testdir(), 'data') }),
    stdio: ['ignore', 'pipe', 'pipe']
  })
  let stderr = ''
  child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString() })
  const [code] = await once(child, 'exit') as [number]
  t.equal(code, 2)
  t.match(stderr, /^user-service: invalid configuration: PORT must be an integer \(got "not-a-port"\)\n$/)
})
