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
