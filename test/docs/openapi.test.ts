import { readFile } from 'node:fs/promises'
import SwaggerParser from '@apidevtools/swagger-parser'
import t from 'tap'
import { buildApp } from '../helper.js'
import { operationsOf, type OpenApiDocument, type Response } from './openapi-document.js'

t.test('GET /openapi.json is a valid OpenAPI 3.1 document', async (t) => {
  const { app } = await buildApp(t)
  const response = await app.inject({ method: 'GET', url: '/openapi.json' })
  t.equal(response.statusCode, 200)
  t.match(response.headers['content-type'], /^application\/json/)
  const doc = response.json<OpenApiDocument>()

  t.match(doc.openapi, /^3\.1\.\d+$/, 'OpenAPI 3.1.x')
  // swagger-parser dereferences in place: validate a copy so the assertions below see the original.
  await t.resolves(SwaggerParser.validate(structuredClone(doc) as never), 'swagger-parser accepts the document')
  t.same(doc.servers, [{ url: 'http://user-service.test' }], 'the server URL is PUBLIC_URL')

  t.test('security schemes', async (t) => {
    const schemes = doc.components?.securitySchemes ?? {}
    t.match(schemes.OAuth2PasswordBearer, {
      type: 'oauth2',
      flows: { password: { tokenUrl: '/api/v1/auth/token', scopes: {} } }
    })
    t.match(schemes.bearerAuth, { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' })
    t.match(schemes.clientBasic, { type: 'http', scheme: 'basic', description: /client_secret_basic/ })
  })

  t.test('client authentication is declared where a client may or must authenticate', async (t) => {
    const securityOf = (path: string): unknown => doc.paths[path]?.post?.security
    for (const path of ['/api/v1/auth/token', '/api/v1/auth/revoke']) {
      t.same(securityOf(path), [{}, { clientBasic: [] }], `${path}: anyone, or a confidential client with its credentials`)
    }
    t.same(securityOf('/api/v1/auth/introspect'), [{ clientBasic: [] }, { OAuth2PasswordBearer: [] }, { bearerAuth: [] }],
      'introspection: client credentials or a bearer token')
  })

  t.test('every operation is documented, with a unique operationId', async (t) => {
    const operations = operationsOf(doc)
    t.ok(operations.length >= 9, `${operations.length} operations`)
    for (const { method, path, operation } of operations) {
      const name = `${method.toUpperCase()} ${path}`
      t.type(operation.operationId, 'string', `${name} has an operationId`)
      t.ok(operation.summary !== undefined && operation.summary !== '', `${name} has a summary`)
      t.ok(Array.isArray(operation.tags) && operation.tags.length > 0, `${name} has tags`)
      t.ok(Array.isArray(operation.security), `${name} says what security it needs ([] for none)`)
      if (operation.tags?.includes('admin') === true) t.same(operation.security, [{ OAuth2PasswordBearer: [] }, { bearerAuth: [] }], `${name} needs a bearer token`)
    }
    const ids = operations.map(({ operation }) => operation.operationId)
    t.same(ids.filter((id, index) => ids.indexOf(id) !== index), [], 'operationIds are unique')
    t.notOk(doc.paths['/openapi.json'], 'the document does not list itself')
  })

  t.test('every protected operation accepts either security scheme', async (t) => {
    const isProtected = (path: string): boolean => /^\/api\/v1\/(users|auth\/sessions|auth\/logout)/.test(path)
    const isPublic = (path: string): boolean => path.startsWith('/.well-known/') ||
      ['/health', '/ready', '/api/v1/auth/register', '/api/v1/auth/login', '/api/v1/auth/refresh'].includes(path)
    const protectedOperations = operationsOf(doc).filter(({ path }) => isProtected(path))
    t.same(new Set(protectedOperations.map(({ operation }) => operation.operationId)),
      new Set(['getMe', 'updateMe', 'replaceMe', 'deleteMe', 'getUser', 'changeMyPassword', 'logout', 'listSessions', 'endSession']))
    for (const { method, path, operation } of protectedOperations) {
      const schemes = (operation.security ?? []).flatMap((requirement) => Object.keys(requirement))
      t.same(new Set(schemes), new Set(['OAuth2PasswordBearer', 'bearerAuth']), `${method.toUpperCase()} ${path} lists both schemes`)
      t.ok(operation.responses?.['401'], `${method.toUpperCase()} ${path} documents 401`)
    }
    for (const { method, path, operation } of operationsOf(doc).filter(({ path }) => isPublic(path))) {
      t.same(operation.security, [], `${method.toUpperCase()} ${path} says it needs no token (security: [])`)
    }
  })

  t.test('every operation declares the statuses and headers every route can answer', async (t) => {
    const version = (JSON.parse(await readFile(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version
    t.equal(doc.info.version, version, 'the document\'s version is the package\'s')
    for (const { method, path, operation } of operationsOf(doc)) {
      const name = `${method.toUpperCase()} ${path}`
      const responses = operation.responses ?? {}
      // Any route refuses a NUL byte in the query string, and any can fail.
      t.ok(responses['400'] && responses['500'], `${name} declares 400 and 500`)
      // Every route but /health is shed under load; the database routes also answer 503 while it is down.
      if (path !== '/health') t.ok(responses['503']?.headers?.['Retry-After'], `${name} declares 503 with Retry-After`)
      for (const [status, response] of Object.entries(responses)) {
        t.ok(response.headers?.['X-Request-ID'], `${name} ${status} declares X-Request-ID`)
        if (status.startsWith('2')) t.ok(response.description !== undefined && response.description !== 'Default Response', `${name} ${status} is described`)
        for (const [mediaType, { example }] of Object.entries(response.content ?? {})) {
          if (mediaType === 'application/problem+json') t.equal(example?.status, Number(status), `${name} ${status}: its example has its status`)
        }
      }
    }
    t.match(doc.components?.headers?.RequestId, { schema: { type: 'string' }, description: /request/ }, 'shared headers are declared once')
  })

  t.test('headers of particular answers', async (t) => {
    const responsesOf = (method: string, path: string): Record<string, Response> => doc.paths[path]?.[method]?.responses ?? {}
    const headersOf = (method: string, path: string, status: string): string[] => Object.keys(responsesOf(method, path)[status]?.headers ?? {})
    for (const path of ['/api/v1/auth/register', '/api/v1/auth/login', '/api/v1/auth/refresh']) {
      const success = path.endsWith('register') ? '201' : '200'
      t.ok(headersOf('post', path, success).includes('Cache-Control'), `${path} ${success}: Cache-Control`)
    }
    t.ok(headersOf('post', '/api/v1/auth/register', '201').includes('Location'), 'register 201: Location')
    for (const path of ['/api/v1/auth/token', '/api/v1/auth/revoke', '/api/v1/auth/introspect']) {
      for (const status of Object.keys(responsesOf('post', path))) t.ok(headersOf('post', path, status).includes('Cache-Control'), `${path} ${status}: Cache-Control`)
      t.ok(headersOf('post', path, '401').includes('WWW-Authenticate'), `${path} 401: WWW-Authenticate`)
    }
    for (const { method, path, operation } of operationsOf(doc).filter(({ operation }) => (operation.security ?? []).length > 0)) {
      for (const status of Object.keys(operation.responses ?? {})) t.ok(headersOf(method, path, status).includes('Cache-Control'), `${method} ${path} ${status}: Cache-Control`)
      t.ok(headersOf(method, path, '401').includes('WWW-Authenticate'), `${method} ${path} 401: WWW-Authenticate`)
    }
    for (const path of ['/.well-known/jwks.json', '/.well-known/oauth-authorization-server', '/ready']) {
      t.ok(headersOf('get', path, '200').includes('Cache-Control'), `${path} 200: Cache-Control`)
    }
  })

  t.test('revocation answers 200 with no content (RFC 7009 §2.2)', async (t) => {
    const ok = doc.paths['/api/v1/auth/revoke']?.post?.responses?.['200'] as { content?: unknown, description?: string } | undefined
    t.ok(ok?.description)
    t.equal(ok?.content, undefined, 'no content is documented, and none is sent (test/auth/sessions.test.ts)')
  })

  t.test('the token endpoint takes a form body', async (t) => {
    const token = doc.paths['/api/v1/auth/token']?.post
    t.ok(token, 'POST /api/v1/auth/token is documented')
    const content = token?.requestBody?.content ?? {}
    t.ok(content['application/x-www-form-urlencoded'], 'offers application/x-www-form-urlencoded')
    t.match(content['application/x-www-form-urlencoded'], { schema: { properties: { grant_type: {}, username: {}, password: {} } } })
  })
})

t.test('GET /docs serves Swagger UI', async (t) => {
  const { app } = await buildApp(t)
  for (const url of ['/docs', '/docs/']) {
    const response = await app.inject({ method: 'GET', url })
    t.equal(response.statusCode, 200, `${url} answers 200`)
    t.match(response.headers['content-type'], /^text\/html/, `${url} is HTML`)
    t.match(response.body, /<div id="swagger-ui">/, `${url} is the Swagger UI page`)
    // Swagger UI's own CSP (not the API's default-src 'none'), still without inline scripts,
    // and without upgrade-insecure-requests (the service may run on plain http).
    const csp = String(response.headers['content-security-policy'])
    t.match(csp, /script-src 'self'/, `${url} may load Swagger UI's scripts`)
    t.notMatch(csp, /unsafe-inline|unsafe-eval|upgrade-insecure-requests/, `${url} CSP stays strict`)
  }
  const json = await app.inject({ method: 'GET', url: '/docs/json' })
  t.equal(json.statusCode, 200, 'Swagger UI can load the document it shows')
  t.match(json.json(), { openapi: /^3\.1\./, components: { securitySchemes: { OAuth2PasswordBearer: {} } } })
})
