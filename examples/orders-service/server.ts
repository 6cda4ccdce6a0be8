/**
 * orders-service: an example resource server for user-service's access tokens.
 *
 * Every request: the token is verified offline, without calling user-service and without any
 * secret: the public keys come from the JWKS (get-jwks, cached, re-fetched on an unknown kid)
 * and @fastify/jwt pins the algorithms and checks iss, aud, typ, exp and nbf.
 *
 * With its own confidential client (ORDERS_CLIENT_ID, ORDERS_CLIENT_SECRET): tokens of ended
 * sessions and of disabled or deleted accounts are refused as soon as user-service's
 * revocation feed says so (revocation-feed.ts: the stream, milliseconds after a logout; pages
 * when the stream cannot be had). Writes need an answer they can trust: while the stream is
 * connected the list is one, otherwise user-service's introspection is asked (introspection.ts)
 * and a write without an answer is refused. Reads go on with the list as it stands while
 * user-service is down: at worst a token reads until it expires (15 minutes).
 *
 *   USER_SERVICE_URL=http://127.0.0.1:3000 PORT=4000 node --import tsx examples/orders-service/server.ts
 */
import fastifyJwt from '@fastify/jwt'
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify'
import buildGetJwks from 'get-jwks'
import { loadOrdersConfig, type OrdersConfig } from './config.js'
import { basicAuthorization, IntrospectionUnavailable, Introspector } from './introspection.js'
import { RevocationFeedFollower } from './revocation-feed.js'
import { RevocationList } from './revocation-list.js'

interface UserClaims {
  sub: string
  sid: string
  iat?: number
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
      // `sid`: orders belong to people. A client_credentials token has no session, and one of a
      // client registered without an audience carries aud=user-service like a user's token.
      requiredClaims: ['sub', 'exp', 'sid']
    }
  })

  const feed = followRevocations(app, config)

  app.addHook('onRequest', async (request, reply) => {
    if (request.url === '/health') return
    try {
      await request.jwtVerify()
    } catch (error) {
      request.log.info({ reason: (error as Error).message }, 'token refused')
      return invalidToken(reply, 'a valid user-service access token is required')
    }
    const revoked = feed?.list.refusal(request.user as UserClaims)
    if (revoked !== undefined) {
      request.log.info({ reason: revoked }, 'token refused: listed in the revocation feed')
      return invalidToken(reply, `the token is no longer active (${revoked})`)
    }
  })

  const confirmLive = liveTokenCheck(app, config, feed?.follower)

  const orders: Order[] = []

  app.get('/health', async () => ({ status: 'ok', revocations: feed?.follower.status ?? null }))

  app.get('/orders', async (request) => {
    const user = request.user as UserClaims
    return { user: user.sub, roles: user.roles ?? [], orders: orders.filter((order) => order.owner === user.sub) }
  })

  app.post<{ Body: { item: string, quantity?: number } }>('/orders', {
    ...(confirmLive === undefined ? {} : { preHandler: confirmLive }),
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

function invalidToken (reply: FastifyReply, description: string): FastifyReply {
  return reply.code(401).header('www-authenticate', 'Bearer error="invalid_token"').send({ error: 'invalid_token', error_description: description })
}

/** The revocation list and what keeps it, started with the app and stopped with it; undefined without client credentials. */
function followRevocations (app: FastifyInstance, config: OrdersConfig): { list: RevocationList, follower: RevocationFeedFollower } | undefined {
  if (config.client === null) return undefined
  const list = new RevocationList(config.revocations.keepMs)
  const follower = new RevocationFeedFollower(list, {
    ...config.revocations,
    userServiceUrl: config.userServiceUrl,
    authorization: basicAuthorization(config.client.id, config.client.secret),
    log: app.log.child({ feed: 'revocations' })
  })
  app.addHook('onReady', async () => { follower.start() })
  app.addHook('onClose', async () => follower.close())
  return { list, follower }
}

/**
 * The preHandler that makes sure a write's (offline-verified) token is still live, or
 * undefined without client credentials. While the revocation stream is connected the list
 * has already answered; otherwise it asks user-service's introspection. It fails closed: with
 * no answer to trust, the write is refused with 503 and Retry-After, never let through on the
 * offline check alone.
 */
function liveTokenCheck (app: FastifyInstance, config: OrdersConfig, feed: RevocationFeedFollower | undefined): ((request: FastifyRequest, reply: FastifyReply) => Promise<unknown>) | undefined {
  if (config.client === null) {
    app.log.warn('ORDERS_CLIENT_ID and ORDERS_CLIENT_SECRET are not set: tokens are verified offline only, ' +
      'so a disabled account or an ended session can still write until its token expires')
    return undefined
  }
  const introspector = new Introspector(config.userServiceUrl, config.client, config.introspectionTimeoutMs)
  app.log.info({ clientId: config.client.id }, 'tokens are checked against user-service\'s revocation feed as this confidential client; ' +
    'writes are confirmed by user-service introspection while the feed\'s stream is not connected')
  return async (request, reply) => {
    if (feed?.live === true) return
    const token = (request.headers.authorization ?? '').replace(/^Bearer\s+/i, '')
    try {
      if (await introspector.isActive(token)) return
      request.log.info('token refused: user-service says it is no longer active')
      return invalidToken(reply, 'the token is no longer active (the session ended or the account was disabled)')
    } catch (error) {
      if (!(error instanceof IntrospectionUnavailable)) throw error
      request.log.error({ reason: error.message }, 'introspection failed: write refused (fail closed)')
      return reply.code(503).header('retry-after', String(error.retryAfterSeconds)).send({
        error: 'temporarily_unavailable',
        error_description: 'cannot confirm the token with user-service right now; try again later'
      })
    }
  }
}

const isEntry = import.meta.url === new URL(process.argv[1] ?? '', 'file://').href
if (isEntry) {
  const config = loadOrdersConfig(process.env)
  const app = await buildOrdersService(config)
  await app.listen({ port: config.port, host: config.host })
}
