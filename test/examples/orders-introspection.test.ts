import { once } from 'node:events'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import t, { type Test } from 'tap'
import { loadOrdersConfig } from '../../examples/orders-service/config.js'
import { IntrospectionUnavailable, Introspector } from '../../examples/orders-service/introspection.js'
import { onlyOnPGliteRun } from '../helper.js'
import { freePort } from './free-port.js'

/**
 * examples/orders-service's introspection client against a stand-in user-service on loopback:
 * what it sends, and that every answer it cannot trust (an error status, a malformed body, no
 * answer in time, no server) is IntrospectionUnavailable, which the service turns into a 503.
 * The real user-service's answers are in orders-service.test.ts.
 */
interface Seen { method: string, url: string, headers: IncomingMessage['headers'], body: string }

/** A stand-in user-service: `answer` responds (or never does); resolves with its URL and what it received. */
async function standIn (t: Test, answer: (response: ServerResponse) => void): Promise<{ url: string, seen: Seen[] }> {
  const seen: Seen[] = []
  const server = createServer((request, response) => {
    let body = ''
    request.on('data', (chunk: Buffer) => { body += chunk.toString() })
    request.on('end', () => {
      seen.push({ method: request.method ?? '', url: request.url ?? '', headers: request.headers, body })
      answer(response)
    })
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.teardown(() => { server.closeAllConnections(); server.close() })
  return { url: `http://127.0.0.1:${(server.address() as { port: number }).port}`, seen }
}

function json (status: number, body: unknown, headers: Record<string, string> = {}): (response: ServerResponse) => void {
  return (response) => { response.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(body)) }
}

const CLIENT = { id: '0193a8f0-6b7c-7a3e-9a51-0f1d2e3c4b5a', secret: 'secret' }

/** RFC 6749 §2.3.1, read the way user-service reads it: base64, split at the first ':', then form-decode each half. */
function decodeBasic (header: string | undefined): { id: string, secret: string } {
  const decoded = Buffer.from((header ?? '').replace(/^Basic /, ''), 'base64').toString('utf8')
  const colon = decoded.indexOf(':')
  const formDecode = (value: string): string => decodeURIComponent(value.replace(/\+/g, ' '))
  return { id: formDecode(decoded.slice(0, colon)), secret: formDecode(decoded.slice(colon + 1)) }
}

t.test('introspection client', { skip: onlyOnPGliteRun }, async (t) => {
  t.test('it posts the token as a form, with client_secret_basic form-encoded on both halves', async (t) => {
    const { url, seen } = await standIn(t, json(200, { active: true, sub: 'someone' }))
    const awkward = { id: 'orders service:1', secret: 'p%ss+w:rd é/=' }
    t.equal(await new Introspector(url, awkward, 10_000).isActive('the.jwt.here'), true)
    const [request] = seen
    t.match(request, { method: 'POST', url: '/api/v1/auth/introspect', headers: { 'content-type': 'application/x-www-form-urlencoded;charset=UTF-8' } })
    t.same(Object.fromEntries(new URLSearchParams(request?.body)), { token: 'the.jwt.here', token_type_hint: 'access_token' })
    t.same(decodeBasic(request?.headers.authorization), awkward, '":" "%" "+" and spaces survive the round trip')
  })

  t.test('{"active":false} is an answer: false', async (t) => {
    const { url } = await standIn(t, json(200, { active: false }))
    t.equal(await new Introspector(url, CLIENT, 10_000).isActive('revoked'), false)
  })

  const unusable = [
    { name: '401 invalid_client (a wrong secret)', answer: json(401, { error: 'invalid_client' }), message: 'user-service answered 401 invalid_client', retryAfter: 5 },
    { name: '500', answer: json(500, { error: 'server_error' }), message: 'user-service answered 500 server_error', retryAfter: 5 },
    { name: '503 with Retry-After', answer: json(503, { error: 'temporarily_unavailable' }, { 'retry-after': '17' }), message: 'answered 503', retryAfter: 17 },
    { name: '429 with Retry-After', answer: json(429, { error: 'too_many_requests' }, { 'retry-after': '3' }), message: 'answered 429', retryAfter: 3 },
    { name: 'a proxy\'s HTML page', answer: (response: ServerResponse) => { response.writeHead(502, { 'content-type': 'text/html' }).end('<h1>Bad Gateway</h1>') }, message: 'user-service answered 502', retryAfter: 5 },
    { name: '200 without "active"', answer: json(200, { sub: 'someone' }), message: 'without a boolean "active"', retryAfter: 5 },
    { name: '200 with "active":"true"', answer: json(200, { active: 'true' }), message: 'without a boolean "active"', retryAfter: 5 }
  ]
  for (const { name, answer, message, retryAfter } of unusable) {
    t.test(`${name} → IntrospectionUnavailable`, async (t) => {
      const { url } = await standIn(t, answer)
      const error = await new Introspector(url, CLIENT, 10_000).isActive('token').catch((error: unknown) => error)
      t.type(error, IntrospectionUnavailable)
      t.match(error, { message, retryAfterSeconds: retryAfter })
    })
  }

  t.test('no answer within the timeout → IntrospectionUnavailable', async (t) => {
    const { url, seen } = await standIn(t, () => { /* never answers */ })
    const error = await new Introspector(url, CLIENT, 100).isActive('token').catch((error: unknown) => error)
    t.match(error, { name: 'IntrospectionUnavailable', message: 'user-service unreachable: no answer within 100 ms' })
    t.equal(seen.length, 1, 'the request did reach the stand-in')
  })

  t.test('nothing listening → IntrospectionUnavailable', async (t) => {
    const error = await new Introspector(`http://127.0.0.1:${await freePort()}`, CLIENT, 10_000).isActive('token').catch((error: unknown) => error)
    t.match(error, { name: 'IntrospectionUnavailable', message: 'user-service unreachable: ECONNREFUSED' })
  })
})

t.test('configuration', { skip: onlyOnPGliteRun }, async (t) => {
  t.equal(loadOrdersConfig({}).client, null, 'no client variables: offline only')
  t.same(loadOrdersConfig({ ORDERS_CLIENT_ID: 'id', ORDERS_CLIENT_SECRET: 's' }).client, { id: 'id', secret: 's' })
  t.equal(loadOrdersConfig({}).introspectionTimeoutMs, 2000, 'a short default timeout')
  t.throws(() => loadOrdersConfig({ ORDERS_CLIENT_ID: 'id' }), /ORDERS_CLIENT_ID and ORDERS_CLIENT_SECRET go together/, 'one without the other')
  t.throws(() => loadOrdersConfig({ ORDERS_CLIENT_SECRET: 's' }), /go together/)
  t.throws(() => loadOrdersConfig({ INTROSPECTION_TIMEOUT_MS: '0' }), /INTROSPECTION_TIMEOUT_MS/)
  t.throws(() => loadOrdersConfig({ JWT_ALGORITHMS: 'HS256' }), /unsupported algorithm HS256/)
})
