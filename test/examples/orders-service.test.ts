import { generateKeyPairSync } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import t from 'tap'
import { loadConfig } from '../../src/config.js'
import { openDatabase } from '../../src/db/connect.js'
import { basicAuthorization } from '../../examples/orders-service/introspection.js'
import { decodeJwt, signRs256 } from '../auth/jwt-forge.js'
import { cli } from '../cli/in-process.js'
import { testDatabaseKind } from '../helper.js'
import { freePort } from './free-port.js'
import { logged, orders, placeOrder, postJson, register, setUpByCli, start, stop, token } from './orders-processes.js'
import { migratedDatabaseEnv } from '../setup/databases.js'

/**
 * End to end: user-service and examples/orders-service as real processes on loopback. The
 * orders service verifies tokens offline from the JWKS, across a key rotation; with its own
 * confidential client it also introspects before each write, and fails closed.
 */

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

t.test('orders-service verifies user-service tokens from the JWKS, across a key rotation', async (t) => {
  const port = await freePort()
  const publicUrl = `http://127.0.0.1:${port}`
  const env = { ...await migratedDatabaseEnv(t), PORT: String(port), PUBLIC_URL: publicUrl, KEYS_REFRESH_INTERVAL_MS: '200', MIGRATE_ON_START: 'true' }
  let users = await start(t, 'src/server.ts', env)
  const shop = await start(t, 'examples/orders-service/server.ts', { USER_SERVICE_URL: publicUrl, PORT: '0' })
  t.ok(await logged(shop, /verified offline only/), 'without client credentials it says, at start, that it verifies offline only')

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

t.test('with its own confidential client, orders-service introspects before each write and fails closed', async (t) => {
  const port = await freePort()
  const publicUrl = `http://127.0.0.1:${port}`
  const env = { ...await migratedDatabaseEnv(t), PORT: String(port), PUBLIC_URL: publicUrl, MIGRATE_ON_START: 'true' }
  // The CLI runs before the server starts: PGlite is single-process (on PostgreSQL it could run alongside).
  const admin = { username: 'ops', password: 'a long admin passphrase' }
  const client = await setUpByCli(env, admin)
  const users = await start(t, 'src/server.ts', env)
  const shopEnv = { USER_SERVICE_URL: publicUrl, PORT: '0', ORDERS_CLIENT_ID: client.id }
  const shop = await start(t, 'examples/orders-service/server.ts', { ...shopEnv, ORDERS_CLIENT_SECRET: client.secret })
  t.ok(await logged(shop, /confirmed by user-service introspection/), 'it says at start that writes are introspected')

  // The client's own client_credentials token (aud user-service: no audience was registered) is no user's: no sid, refused.
  const machine = await fetch(`${users.url}/api/v1/auth/token`, {
    method: 'POST', headers: { authorization: basicAuthorization(client.id, client.secret) }, body: new URLSearchParams({ grant_type: 'client_credentials' })
  })
  const { access_token: machineToken } = await machine.json() as { access_token: string }
  t.equal(decodeJwt(machineToken).payload.aud, 'user-service', 'control: the audience user tokens have')
  t.equal((await orders(shop.url, machineToken)).status, 401, 'a client_credentials token is no user token (no sid)')

  // A live session writes; after logout, writes are refused while reads still answer from the
  // offline check (by design: reads tolerate the token's remaining lifetime, see the README).
  const alice = await register(users.url, 'alice')
  t.equal((await placeOrder(shop.url, alice.token)).status, 201, 'a live token places an order')
  t.equal((await postJson(`${users.url}/api/v1/auth/logout`, {}, alice.token)).status, 204, 'alice logs out')
  const afterLogout = await placeOrder(shop.url, alice.token)
  t.equal(afterLogout.status, 401, 'after logout the same, unexpired token cannot write')
  t.match(afterLogout.headers.get('www-authenticate'), /^Bearer error="invalid_token"/)
  t.match(await afterLogout.json(), { error: 'invalid_token', error_description: /no longer active/ })
  const aliceOrders = await orders(shop.url, alice.token)
  t.equal(aliceOrders.status, 200, 'reads stay offline: the token still reads until it expires')
  t.match(await aliceOrders.json(), { user: alice.id, orders: [{ item: 'teapot' }] })

  // An admin disables an account: its writes stop at once, reads go on offline.
  const bob = await register(users.url, 'bob')
  t.equal((await placeOrder(shop.url, bob.token)).status, 201)
  const adminToken = await token(users.url, admin)
  const disable = await fetch(`${users.url}/api/v1/admin/users/${bob.id}`, {
    method: 'PATCH', headers: { 'content-type': 'application/json', authorization: `Bearer ${adminToken}` }, body: JSON.stringify({ is_active: false })
  })
  t.equal(disable.status, 200, 'the admin disables bob')
  t.equal((await placeOrder(shop.url, bob.token)).status, 401, 'a disabled account cannot write')
  t.equal((await orders(shop.url, bob.token)).status, 200, 'but still reads until its token expires')

  // A wrong secret: user-service answers 401 invalid_client, and orders-service refuses writes rather than trust the offline check.
  const carol = await register(users.url, 'carol')
  t.equal((await placeOrder(shop.url, carol.token)).status, 201, 'control: carol\'s token writes through the well-configured shop')
  const misconfigured = await start(t, 'examples/orders-service/server.ts', { ...shopEnv, ORDERS_CLIENT_SECRET: `${client.secret}-wrong` })
  const refused = await placeOrder(misconfigured.url, carol.token)
  t.equal(refused.status, 503, 'a wrong client secret: writes fail closed')
  t.equal(refused.headers.get('retry-after'), '5')
  t.match(await refused.json(), { error: 'temporarily_unavailable', error_description: /cannot confirm the token/ })
  t.ok(await logged(misconfigured, /"reason":"user-service answered 401 invalid_client"/), 'the cause is logged')
  t.equal((await orders(misconfigured.url, carol.token)).status, 200, 'reads do not need the client')

  // user-service down: writes fail closed, reads go on from the cached keys.
  await stop(users)
  const down = await placeOrder(shop.url, carol.token)
  t.equal(down.status, 503, 'user-service stopped: writes fail closed')
  t.ok(down.headers.has('retry-after'))
  t.ok(await logged(shop, /"reason":"user-service unreachable: ECONNREFUSED"/), 'the cause is logged')
  t.equal((await orders(shop.url, carol.token)).status, 200, 'reads go on while user-service is down')

  await stop(misconfigured)
  await stop(shop)
})
