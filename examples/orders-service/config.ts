/** orders-service's configuration, from the environment (see README.md for the table). */
export interface OrdersConfig {
  /** Where the JWKS is (`${userServiceUrl}/.well-known/jwks.json`) and introspection (`/api/v1/auth/introspect`). */
  userServiceUrl: string
  /** The `iss` tokens must carry (user-service's JWT_ISSUER; by default its PUBLIC_URL). */
  issuer: string
  /** The `aud` tokens must carry (user-service's JWT_AUDIENCE). */
  audience: string
  /** The algorithms accepted: user-service's JWT_ALGORITHM, never HS256 with a JWKS. */
  algorithms: Array<'RS256' | 'ES256' | 'EdDSA'>
  /**
   * orders-service's own confidential OAuth client (ORDERS_CLIENT_ID, ORDERS_CLIENT_SECRET),
   * with which it introspects tokens before a write; null: offline verification only.
   */
  client: { id: string, secret: string } | null
  /** How long a write waits for introspection before it fails closed (503). */
  introspectionTimeoutMs: number
  /** The revocation feed, followed with `client` (it needs the scope revocations:read). */
  revocations: {
    /** How often the page endpoint is read while the stream cannot be had. */
    pollIntervalMs: number
    /** No byte (event or heartbeat) for this long: the stream is taken for dead and opened again. */
    idleTimeoutMs: number
    /** How long an entry is kept: user-service's JWT_EXPIRE_MINUTES, the longest a revoked token can live. */
    keepMs: number
  }
  port: number
  host: string
  logLevel: string
}

function positiveInteger (env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const value = Number(env[name] ?? fallback)
  if (!Number.isInteger(value) || value <= 0) throw new Error(`${name}: a positive whole number is required (got "${env[name] ?? ''}")`)
  return value
}

/** Both client variables or neither: one without the other is a half-done setup, refused at start rather than found at the first write. */
function ordersClient (env: NodeJS.ProcessEnv): OrdersConfig['client'] {
  const id = env.ORDERS_CLIENT_ID ?? ''
  const secret = env.ORDERS_CLIENT_SECRET ?? ''
  if (id === '' && secret === '') return null
  if (id === '' || secret === '') throw new Error('ORDERS_CLIENT_ID and ORDERS_CLIENT_SECRET go together: set both (introspection) or neither (offline only)')
  return { id, secret }
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
    client: ordersClient(env),
    introspectionTimeoutMs: positiveInteger(env, 'INTROSPECTION_TIMEOUT_MS', 2000),
    revocations: {
      pollIntervalMs: positiveInteger(env, 'REVOCATION_POLL_SECONDS', 5) * 1000,
      // Three of user-service's default heartbeats (REVOCATION_STREAM_HEARTBEAT_SECONDS, 15).
      idleTimeoutMs: positiveInteger(env, 'REVOCATION_IDLE_SECONDS', 45) * 1000,
      keepMs: positiveInteger(env, 'JWT_EXPIRE_MINUTES', 15) * 60_000
    },
    port: Number(env.PORT ?? 4000),
    host: env.HOST ?? '127.0.0.1',
    logLevel: env.LOG_LEVEL ?? 'info'
  }
}
