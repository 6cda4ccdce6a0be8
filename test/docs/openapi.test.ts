import SwaggerParser from '@apidevtools/swagger-parser'
import t from 'tap'
import { buildApp } from '../helper.js'

interface Operation {
  operationId?: string
  summary?: string
  tags?: string[]
  security?: Array<Record<string, string[]>>
  requestBody?: { content?: Record<string, unknown> }
  responses?: Record<string, unknown>
}

interface OpenApiDocument {
  openapi: string
  servers?: Array<{ url: string }>
  paths: Record<string, Record<string, Operation>>
  components?: { securitySchemes?: Record<string, Record<string, unknown>> }
}

const METHODS = new Set(['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'])

function operationsOf (doc: OpenApiDocument): Array<{ method: string, path: string, operation: Operation }> {
  return Object.entries(doc.paths).flatMap(([path, item]) =>
    Object.entries(item).filter(([method]) => METHODS.has(method)).map(([method, operation]) => ({ method, path, operation })))
}

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
  })

  t.test('every operation is documented, with a unique operationId', async (t) => {
    const operations = operationsOf(doc)
    t.ok(operations.length >= 9, `${operations.length} operations`)
    for (const { method, path, operation } of operations) {
      const name = `${method.toUpperCase()} ${path}`
      t.type(operation.operationId, 'string', `${name} has an operationId`)
      t.ok(operation.summary !== undefined && operation.summary !== '', `${name} has a summary`)
      t.ok(Array.isArray(operation.tags) && operation.tags.length > 0, `${name} has tags`)
    }
    const ids = operations.map(({ operation }) => operation.operationId)
    t.same(ids.filter((id, index) => ids.indexOf(id) !== index), [], 'operationIds are unique')
    t.notOk(doc.paths['/openapi.json'], 'the document does not list itself')
  })

  t.test('every protected operation accepts either security scheme', async (t) => {
    const isProtected = (path: string): boolean => /^\/api\/v1\/(users|auth\/sessions|auth\/logout)/.test(path)
    const isPublic = (path: string): boolean => path.startsWith('/.well-known/') ||
      ['/health', '/ready', '/api/v1/auth/register', '/api/v1/auth/login', '/api/v1/auth/token', '/api/v1/auth/refresh', '/api/v1/auth/revoke'].includes(path)
    const protectedOperations = operationsOf(doc).filter(({ path }) => isProtected(path))
    t.same(new Set(protectedOperations.map(({ operation }) => operation.operationId)),
      new Set(['getMe', 'updateMe', 'replaceMe', 'deleteMe', 'getUser', 'changeMyPassword', 'logout', 'listSessions', 'endSession']))
    for (const { method, path, operation } of protectedOperations) {
      const schemes = (operation.security ?? []).flatMap((requirement) => Object.keys(requirement))
      t.same(new Set(schemes), new Set(['OAuth2PasswordBearer', 'bearerAuth']), `${method.toUpperCase()} ${path} lists both schemes`)
      t.ok(operation.responses?.['401'], `${method.toUpperCase()} ${path} documents 401`)
    }
    for (const { method, path, operation } of operationsOf(doc).filter(({ path }) => isPublic(path))) {
      t.same(operation.security ?? [], [], `${method.toUpperCase()} ${path} needs no token`)
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
