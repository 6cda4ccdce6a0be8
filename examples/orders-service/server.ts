/**
 * orders-service: an example resource server. It trusts user-service's access tokens
 * without calling user-service per request and without any secret: it fetches the public
 * keys from the JWKS (get-jwks, cached, re-fetched on an unknown kid) and verifies each
 * token with @fastify/jwt, pinning the algorithms and checking iss, aud, typ, exp and nbf.
 *
 *   USER_SERVICE_URL=http://127.0.0.1:3000 PORT=4000 node --import tsx examples/orders-service/server.ts
 */
import fastifyJwt from '@fastify/jwt'
import Fastify, { type FastifyInstance, type FastifyRequest } from 'fastify'
import buildGetJwks from 'get-jwks'

export interface OrdersConfig {
  /** Where the JWKS is: `${userServiceUrl}/.well-known/jwks.json`. */
  userServiceUrl: string
  /** The `iss` tokens must carry (user-service's JWT_ISSUER; by default its PUBLIC_URL). */
  issuer: string
  /** The `aud` tokens must carry (user-service's JWT_AUDIENCE). */
  audience: string
  /** The algorithms accepted: user-service's JWT_ALGORITHM, never HS256 with a JWKS. */
  algorithms: Array<'RS256' | 'ES256' | 'EdDSA'>
  port: number
  host: string
  logLevel: string
}

export function loadOrdersConfig (env: NodeJS.ProcessEnv): OrdersConfig {
  const userServiceUrl = (env.USER_SERVICE_URL ?? 'http://127.0.0.1:3000').replace(/\/+$/, '')
  const algorithms = (env.JWT_ALGORITHMS ?? 'RS256').split(',').map((name) => name.trim())
  for (const algorithm of algorithms) {
    if (!['RS256', 'ES256', 'EdDSA'].includes(algorithm)) throw new Error(`JWT_ALGORITHMS: unsupported algorithm ${algorithm}`)
  }
  return {
    userServiceUrl,
    issuer: env.JWT_ISSUER ?? userServiceUrl,
    audience: env.JWT_AUDIENCE ?? 'user-service',
    algorithms: algorithms as OrdersConfig['algorithms'],
    port: Number(env.PORT ?? 4000),
    host: env.HOST ?? '127.0.0.1',
    logLevel: env.LOG_LEVEL ?? 'info'
  }
}

interface UserClaims {
  sub: string
  roles?: string[]
}

interface Order {
  id: string
  owner: string
  item: string
  quantity: number
}

export async function buildOrdersService (config: OrdersConfig): Promise<FastifyInstance> {
  const app = Fastify({ logger: { level: config.logLevel } })
  const getJwks = buildGetJwks({ providerDiscovery: false, issuersWhitelist: [`${config.userServiceUrl}/`], ttl: 5 * 60 * 1000 })

  await app.register(fastifyJwt, {
    decode: { complete: true },
    secret: async (_request: FastifyRequest, token: unknown) => {
      const { header } = token as { header: { kid?: string, alg?: string } }
      return getJwks.getPublicKey({ domain: config.userServiceUrl, kid: header.kid, alg: header.alg })
    },
    verify: {
      algorithms: config.algorithms,
      allowedIss: config.issuer,
      allowedAud: config.audience,
      checkTyp: 'at+jwt',
      requiredClaims: ['sub', 'exp']
    }
  })

  app.addHook('onRequest', async (request, reply) => {
    if (request.url === '/health') return
    try {
      await request.jwtVerify()
    } catch (error) {
      request.log.info({ reason: (error as Error).message }, 'token refused')
      return reply.code(401).header('www-authenticate', 'Bearer error="invalid_token"')
        .send({ error: 'invalid_token', error_description: 'a valid user-service access token is required' })
    }
  })

  const orders: Order[] = []

  app.get('/health', async () => ({ status: 'ok' }))

  app.get('/orders', async (request) => {
    const user = request.user as UserClaims
    return { user: user.sub, roles: user.roles ?? [], orders: orders.filter((order) => order.owner === user.sub) }
  })

  app.post<{ Body: { item: string, quantity?: number } }>('/orders', {
    schema: {
      body: {
        type: 'object',
        required: ['item'],
        additionalProperties: false,
        properties: { item: { type: 'string', minLength: 1, maxLength: 200 }, quantity: { type: 'integer', minimum: 1, default: 1 } }
      }
    }
  }, async (request, reply) => {
    const order = { id: `${orders.length + 1}`, owner: (request.user as UserClaims).sub, item: request.body.item, quantity: request.body.quantity ?? 1 }
    orders.push(order)
    return reply.code(201).send(order)
  })

  return app
}

const isEntry = import.meta.url === new URL(process.argv[1] ?? '', 'file://').href
if (isEntry) {
  const config = loadOrdersConfig(process.env)
  const app = await buildOrdersService(config)
  await app.listen({ port: config.port, host: config.host })
}
