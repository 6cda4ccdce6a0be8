import { setTimeout as sleep } from 'node:timers/promises'
import t from 'tap'
import { cli } from '../cli/in-process.js'
import { freePort } from './free-port.js'
import { logged, orders, placeOrder, postJson, register, setUpByCli, start, stop, token, type Service } from './orders-processes.js'
import { migratedDatabaseEnv } from '../setup/databases.js'

/**
 * End to end: examples/orders-service with the scope revocations:read follows user-service's
 * revocation stream (both real processes on loopback), and refuses ended sessions' tokens on
 * every request within 1 s of the logout, across a user-service restart.
 */
/** Milliseconds from now until GET /orders with `accessToken` answers 401 (asked every 5 ms; 30 s is a deadline for a stuck test). */
async function refusedAfter (shopUrl: string, accessToken: string): Promise<{ ms: number, response: Response }> {
  const started = performance.now()
  for (const deadline = Date.now() + 30_000; Date.now() < deadline; await sleep(5)) {
    const response = await orders(shopUrl, accessToken)
    if (response.status === 401) return { ms: performance.now() - started, response }
    await response.arrayBuffer()
  }
  throw new Error('the token was never refused')
}

const introspections = (users: Service): number => users.output().split('\n').filter((line) => line.includes('"url":"/api/v1/auth/introspect"')).length

t.test('with revocations:read, orders-service follows the revocation feed: ended sessions are refused on every request within 1 s', async (t) => {
  const port = await freePort()
  const publicUrl = `http://127.0.0.1:${port}`
  const env = { ...await migratedDatabaseEnv(t), PORT: String(port), PUBLIC_URL: publicUrl, MIGRATE_ON_START: 'true' }
  const admin = { username: 'ops', password: 'a long admin passphrase' }
  const client = await setUpByCli(env, admin, ['revocations:read'])
  let users = await start(t, 'src/server.ts', env)
  const shop = await start(t, 'examples/orders-service/server.ts', {
    USER_SERVICE_URL: publicUrl, PORT: '0', ORDERS_CLIENT_ID: client.id, ORDERS_CLIENT_SECRET: client.secret, REVOCATION_POLL_SECONDS: '1'
  })
  await logged(shop, /"msg":"revocation stream connected"/)
  t.match(await (await fetch(`${shop.url}/health`)).json(), { status: 'ok', revocations: { state: 'live' } }, '/health shows the feed')

  // While the stream is connected, a write needs no introspection call.
  const alice = await register(users.url, 'alice')
  const before = introspections(users)
  t.equal((await placeOrder(shop.url, alice.token)).status, 201, 'a live token places an order')
  t.equal(introspections(users), before, 'without asking user-service')

  const timings: number[] = []
  const logout = await postJson(`${users.url}/api/v1/auth/logout`, {}, alice.token)
  const aliceRefused = await refusedAfter(shop.url, alice.token)
  t.equal(logout.status, 204)
  timings.push(aliceRefused.ms)
  t.match(await aliceRefused.response.json(), { error: 'invalid_token', error_description: 'the token is no longer active (the session has ended)' }, 'reads too')
  t.equal((await placeOrder(shop.url, alice.token)).status, 401, 'and writes')

  // An admin disables an account: every token it holds stops.
  const bob = await register(users.url, 'bob')
  t.equal((await orders(shop.url, bob.token)).status, 200)
  const disable = await fetch(`${users.url}/api/v1/admin/users/${bob.id}`, {
    method: 'PATCH', headers: { 'content-type': 'application/json', authorization: `Bearer ${await token(users.url, admin)}` }, body: JSON.stringify({ is_active: false })
  })
  t.equal(disable.status, 200)
  const bobRefused = await refusedAfter(shop.url, bob.token)
  timings.push(bobRefused.ms)
  t.match(await bobRefused.response.json(), { error_description: /^the token is no longer active \((the session has ended|the account was disabled or deleted)\)$/ }, 'its sessions end with it')

  // user-service restarts; an account is disabled by the CLI while it is down (PGlite: only then).
  // orders-service resumes after the last event it had, so it learns of what it missed.
  const carol = await register(users.url, 'carol')
  t.equal((await orders(shop.url, carol.token)).status, 200)
  const beforeRestart = shop.output().length
  await stop(users)
  const disabled = await cli(['users', 'disable', carol.id], env)
  t.equal(disabled.code, 0, 'carol disabled by the CLI')
  users = await start(t, 'src/server.ts', env)
  t.ok(await logged(shop, /"lastEventId":"[^"]+","msg":"revocation stream connected"/, beforeRestart), 'it resumed with Last-Event-ID')
  t.equal((await orders(shop.url, carol.token)).status, 401, 'the revocation made while it was away is applied')

  const dave = await register(users.url, 'dave')
  t.equal((await orders(shop.url, dave.token)).status, 200)
  const daveLogout = await postJson(`${users.url}/api/v1/auth/logout`, {}, dave.token)
  timings.push((await refusedAfter(shop.url, dave.token)).ms)
  t.equal(daveLogout.status, 204)

  t.comment(`logout or disable → refused by orders-service: ${timings.map((ms) => ms.toFixed(1)).join(', ')} ms`)
  for (const ms of timings) t.ok(ms < 1000, `refused within 1 s (${ms.toFixed(1)} ms)`)
  await stop(shop)
  await stop(users)
})
