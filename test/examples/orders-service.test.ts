import { spawn, type ChildProcess } from 'node:child_process'
import { generateKeyPairSync } from 'node:crypto'
import { once } from 'node:events'
import { createServer } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import t, { type Test } from 'tap'
import { loadConfig } from '../../src/config.js'
import { openDatabase } from '../../src/db/connect.js'
import { decodeJwt, signRs256 } from '../auth/jwt-forge.js'
import { cli } from '../cli/in-process.js'
import { childEnv, testDatabaseKind } from '../helper.js'
import { listeningUrl } from '../server-process.js'
import { migratedDatabaseEnv } from '../setup/databases.js'

/**
 * End to end: user-service and examples/orders-service as real processes on loopback; the
 * orders service verifies tokens offline from the JWKS, across a key rotation.
 */
interface Service { child: ChildProcess, url: string }

async function freePort (): Promise<number> {
  const server = createServer()
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address() as { port: number }
  server.close()
  await once(server, 'close')
  return port
}

async function start (t: Test, script: string, env: Record<string, string>): Promise<Service> {
  const child = spawn(process.execPath, ['--import', 'tsx', script], { env: childEnv({ LOG_LEVEL: 'info', ...env }), stdio: ['ignore', 'pipe', 'pipe'] })
  t.teardown(() => { child.kill('SIGKILL') })
  let output = ''
  const collect = (chunk: Buffer): void => { output += chunk.toString() }
  child.stdout?.on('data', collect)
  child.stderr?.on('data', collect)
  return { child, url: await listeningUrl(child, () => output) }
}

async function stop (service: Service): Promise<void> {
  const exited = once(service.child, 'exit')
  service.child.kill('SIGTERM')
  await exited
}

async function currentKey (env: Record<string, string>): Promise<{ kid: string, private_key: string }> {
  const handle = await openDatabase(loadConfig(env).database)
  try {
    return await handle.db.selectFrom('signing_keys').select(['kid', 'private_key']).where('status', '=', 'active').executeTakeFirstOrThrow()
  } finally {
    await handle.close()
  }
}

async function keysRotate (env: Record<string, string>): Promise<string> {
  const { code, stdout } = await cli(['keys', 'rotate'], env)
  if (code !== 0) throw new Error(`keys rotate exited ${code}`)
  return /^new signing key (\S+)/m.exec(stdout)?.[1] ?? ''
}

async function token (url: string, credentials: { username: string, password: string }): Promise<string> {
  const response = await fetch(`${url}/api/v1/auth/token`, { method: 'POST', body: new URLSearchParams({ grant_type: 'password', ...credentials }) })
  return (await response.json() as { access_token: string }).access_token
}

async function orders (url: string, accessToken: string): Promise<Response> {
  return fetch(`${url}/orders`, { headers: { authorization: `Bearer ${accessToken}` } })
}

t.test('orders-service verifies user-service tokens from the JWKS, across a key rotation', async (t) => {
  const port = await freePort()
  const publicUrl = `http://127.0.0.1:${port}`
  const env = { ...await migratedDatabaseEnv(t), PORT: String(port), PUBLIC_URL: publicUrl, KEYS_REFRESH_INTERVAL_MS: '200', MIGRATE_ON_START: 'true' }
  let users = await start(t, 'src/server.ts', env)
  const shop = await start(t, 'examples/orders-service/server.ts', { USER_SERVICE_URL: publicUrl, PORT: '0' })

  const credentials = { username: 'shopper', password: 'correct horse battery' }
  const register = await fetch(`${users.url}/api/v1/auth/register`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ ...credentials, email: 'shopper@example.com' })
  })
  t.equal(register.status, 201)
  const { user } = await register.json() as { user: { id: string } }
  const oldToken = await token(users.url, credentials)

  const first = await orders(shop.url, oldToken)
  t.equal(first.status, 200, 'login → orders 200')
  t.match(await first.json(), { user: user.id, roles: ['user'], orders: [] })
  t.equal((await fetch(`${shop.url}/orders`)).status, 401, 'no token')

  // Rotate: PGlite is single-process, so the CLI runs while the server is stopped; PostgreSQL rotates live.
  if (testDatabaseKind() === 'pglite') await stop(users)
  const oldKey = await currentKey(env)
  const newKid = await keysRotate(env)
  if (testDatabaseKind() === 'pglite') users = await start(t, 'src/server.ts', env)

  // PostgreSQL: the running server picks the rotation up with its periodic refresh (200 ms);
  // polled until then, 60 s being a deadline for a stuck test, not a measurement.
  let newToken = await token(users.url, credentials)
  for (const deadline = Date.now() + 60_000; decodeJwt(newToken).header.kid !== newKid && Date.now() < deadline;) {
    await sleep(100)
    newToken = await token(users.url, credentials)
  }
  t.equal(decodeJwt(newToken).header.kid, newKid, 'new tokens use the new key')
  t.equal((await orders(shop.url, newToken)).status, 200, 'the new token works (unknown kid → JWKS re-fetched)')
  t.equal((await orders(shop.url, oldToken)).status, 200, 'the old token still works')

  const { header, payload } = decodeJwt(oldToken)
  const fresh = { ...payload, jti: 'forged' }
  t.equal((await orders(shop.url, signRs256(header, fresh, oldKey.private_key))).status, 200, 'control: a correct forge with the real key passes')
  t.equal((await orders(shop.url, signRs256(header, { ...fresh, iss: 'https://evil.example' }, oldKey.private_key))).status, 401, 'another issuer')
  t.equal((await orders(shop.url, signRs256(header, { ...fresh, aud: 'another-service' }, oldKey.private_key))).status, 401, 'another audience')
  const attacker = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()
  t.equal((await orders(shop.url, signRs256(header, fresh, attacker))).status, 401, 'another key, same kid')
  t.equal((await orders(shop.url, signRs256({ ...header, kid: 'attacker' }, fresh, attacker))).status, 401, 'another key, unknown kid')

  await stop(shop)
  await stop(users)
})
