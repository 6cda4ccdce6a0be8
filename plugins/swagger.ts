import { createHash } from 'node:crypto'
import fastifySwagger from '@fastify/swagger'
import fastifySwaggerUi from '@fastify/swagger-ui'
import fp from 'fastify-plugin'
import packageJson from '../package.json' with { type: 'json' }
import { paths } from '../src/paths.js'
import { OAuthErrorBody, TokenResponse, AuthResponse } from '../src/schemas/auth.js'
import { Problem } from '../src/schemas/common.js'
import { shareHeaders } from '../src/schemas/headers.js'
import { SessionRead } from '../src/schemas/sessions.js'
import { UserPage } from '../src/schemas/admin.js'
import { RevocationPage } from '../src/schemas/revocations.js'
import { AuditEventPage, AuditEventRead } from '../src/schemas/audit.js'
import { ClientPage, ClientRead, ClientWithSecretRead } from '../src/schemas/clients.js'
import { UserRead } from '../src/schemas/users.js'

/**
 * Swagger UI's bundled SVG logo carries an inline <style>; allow exactly that one (by hash)
 * rather than 'unsafe-inline'. test/docs/swagger-ui.browser.test.ts fails on any CSP violation.
 */
const SWAGGER_LOGO_STYLE_HASH = `sha256-${createHash('sha256')
  .update('.logo_small_svg__cls-2{fill:#fff}.logo_small_svg__cls-3{fill:#85ea2d}').digest('base64')}`

/** The OpenAPI 3.1 document (from the route schemas) at /openapi.json, and Swagger UI at /docs. */
export default fp(async (app) => {
  for (const schema of [Problem, UserRead, UserPage, ClientRead, ClientWithSecretRead, ClientPage, AuditEventRead, AuditEventPage, RevocationPage, SessionRead, TokenResponse, AuthResponse, OAuthErrorBody]) app.addSchema(schema)

  await app.register(fastifySwagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'user-service',
        version: packageJson.version,
        license: { name: packageJson.license, identifier: packageJson.license },
        description: 'Registration, OAuth2 password login, JWT access tokens and profiles. ' +
          'Click **Authorize**, enter your username (or email) and password under OAuth2PasswordBearer, then try the protected endpoints.'
      },
      servers: [{ url: app.config.publicUrl }],
      tags: [
        { name: 'auth', description: 'Registration and login' },
        { name: 'users', description: 'The signed-in user' },
        { name: 'sessions', description: 'Sessions, logout and signing devices out' },
        { name: 'admin', description: 'Accounts, their sessions, the OAuth clients and the audit events, for accounts with the role admin' },
        { name: 'health', description: 'Liveness and readiness' },
        { name: 'discovery', description: 'Public keys (JWKS) and OAuth metadata for services that verify tokens' }
      ],
      components: {
        securitySchemes: {
          OAuth2PasswordBearer: {
            type: 'oauth2',
            description: 'OAuth2 password grant (RFC 6749 §4.3); public client, leave client_id and client_secret empty',
            flows: { password: { tokenUrl: paths.token, scopes: {} } }
          },
          bearerAuth: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' },
          clientBasic: {
            type: 'http',
            scheme: 'basic',
            description: 'A confidential OAuth client\'s credentials (RFC 6749 §2.3.1 client_secret_basic): client_id as the user ' +
              'name, client_secret as the password. client_secret_post (both in the form body) works too. Public clients send none.'
          }
        }
      }
    },
    transformObject: (document) => {
      if (!('openapiObject' in document)) return document.swaggerObject
      shareHeaders(document.openapiObject)
      return document.openapiObject
    },
    refResolver: {
      buildLocalReference: (json, _baseUri, _fragment, i) => typeof json.$id === 'string' ? json.$id : `def-${i}`
    }
  })

  await app.register(fastifySwaggerUi, {
    routePrefix: '/docs',
    staticCSP: true,
    // The API may be served over plain http on a private network; don't force https.
    transformStaticCSP: (header) => header.replace(/\s*upgrade-insecure-requests;?/, '')
      .replace(/style-src ([^;]*);/, (_directive, sources: string) => `style-src ${sources.trim()} '${SWAGGER_LOGO_STYLE_HASH}';`),
    uiConfig: { persistAuthorization: false, tryItOutEnabled: false }
  })

  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger())
}, { name: 'swagger', dependencies: ['config'] })
