import t from 'tap'
import { buildApp } from '../helper.js'

t.test('every response carries the security headers, 404s and errors included', async (t) => {
  const { app } = await buildApp(t)
  for (const [method, url] of [['GET', '/health'], ['GET', '/no/such/route'], ['GET', '/api/v1/users/me']] as const) {
    const response = await app.inject({ method, url })
    t.equal(response.headers['content-security-policy'], "default-src 'none';frame-ancestors 'none'", `${url}: CSP`)
    t.equal(response.headers['x-content-type-options'], 'nosniff', `${url}: nosniff`)
    t.equal(response.headers['x-frame-options'], 'SAMEORIGIN')
    t.equal(response.headers['referrer-policy'], 'no-referrer')
    t.equal(response.headers['cross-origin-resource-policy'], 'same-origin')
    t.notOk(response.headers['strict-transport-security'], 'no HSTS on a plain-http PUBLIC_URL')
  }
})

t.test('HSTS when the service is public over https', async (t) => {
  const { app } = await buildApp(t, { env: { PUBLIC_URL: 'https://auth.example.com' } })
  const response = await app.inject({ method: 'GET', url: '/health' })
  t.match(response.headers['strict-transport-security'], /^max-age=\d+; includeSubDomains$/)
})

t.test('/docs keeps the CSP Swagger UI needs', async (t) => {
  const { app } = await buildApp(t)
  const response = await app.inject({ method: 'GET', url: '/docs' })
  t.equal(response.statusCode, 200)
  t.match(response.headers['content-security-policy'], /script-src 'self'/)
})

t.test('CORS: only the configured origins may read answers from a browser', async (t) => {
  const preflight = { origin: 'https://app.example.com', 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization' }

  const closed = (await buildApp(t)).app
  const refused = await closed.inject({ method: 'OPTIONS', url: '/api/v1/users/me', headers: preflight })
  t.equal(refused.statusCode, 404, 'no CORS_ORIGINS: a preflight is not answered')
  t.notOk(refused.headers['access-control-allow-origin'])
  const read = await closed.inject({ method: 'GET', url: '/health', headers: { origin: 'https://app.example.com' } })
  t.notOk(read.headers['access-control-allow-origin'], 'nor is a read allowed')

  const open = (await buildApp(t, { env: { CORS_ORIGINS: 'https://app.example.com' } })).app
  const allowed = await open.inject({ method: 'OPTIONS', url: '/api/v1/users/me', headers: preflight })
  t.equal(allowed.statusCode, 204)
  t.equal(allowed.headers['access-control-allow-origin'], 'https://app.example.com')
  t.match(allowed.headers['access-control-allow-headers'], /Authorization/)
  t.equal(allowed.headers['access-control-max-age'], '600')
  const other = await open.inject({ method: 'GET', url: '/health', headers: { origin: 'https://evil.example.com' } })
  t.equal(other.statusCode, 200)
  t.notOk(other.headers['access-control-allow-origin'], 'another origin is not allowed to read')
})
