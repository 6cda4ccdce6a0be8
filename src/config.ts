import { Type, type Static } from '@sinclair/typebox'
import { envSchema } from 'env-schema'
import { describeEnvError } from './config-messages.js'
import { OidcConfigError, parseOidcProviders, parseRedirectAllowlist, type OidcSettings } from './auth/oidc/oidc-config.js'
import type { LoginLimits } from './rate-limit/login-state.js'
import { DEFAULT_RATE_LIMITS, RATE_LIMIT_RULES, type RateLimitRule } from './rate-limit/rules.js'
import { PASSWORD_MAX_LENGTH, PASSWORD_MIN_LENGTH_FLOOR } from './schemas/common.js'

/** A string that must be one of `values`: Ajv reports it as one error with the allowed values. */
function oneOf<T extends string> (values: readonly T[], defaultValue: T) {
  return Type.Unsafe<T>({ type: 'string', enum: values, default: defaultValue })
}

export const JWT_ALGORITHMS = ['RS256', 'ES256', 'EdDSA', 'HS256'] as const
export type JwtAlgorithm = typeof JWT_ALGORITHMS[number]

/**
 * Environment variables, as validated at start. The TypeScript type is derived from this
 * schema, so the two cannot drift apart.
 */
export const EnvSchema = Type.Object({
  NODE_ENV: oneOf(['development', 'production', 'test'], 'development'),
  PORT: Type.Integer({ minimum: 0, maximum: 65535, default: 3000 }),
  HOST: Type.String({ minLength: 1, default: '127.0.0.1' }),
  DATABASE_URL: Type.Optional(Type.String({ pattern: '^(postgres(ql)?://.+|memory://)$' })),
  DATA_DIR: Type.String({ minLength: 1, default: './data' }),
  DB_POOL_MAX: Type.Integer({ minimum: 1, maximum: 1000, default: 10 }),
  DB_STATEMENT_TIMEOUT_MS: Type.Integer({ minimum: 0, maximum: 3600000, default: 5000 }),
  DB_CONNECT_TIMEOUT_MS: Type.Integer({ minimum: 0, maximum: 600000, default: 5000 }),
  DB_BREAKER_TIMEOUT_MS: Type.Integer({ minimum: 10, maximum: 600000, default: 10000 }),
  DB_BREAKER_ERROR_THRESHOLD: Type.Integer({ minimum: 1, maximum: 100, default: 50 }),
  DB_BREAKER_RESET_MS: Type.Integer({ minimum: 100, maximum: 600000, default: 10000 }),
  DB_BREAKER_VOLUME: Type.Integer({ minimum: 0, maximum: 100000, default: 5 }),
  METRICS_ENABLED: Type.Boolean({ default: true }),
  MAX_EVENT_LOOP_DELAY_MS: Type.Integer({ minimum: 0, maximum: 600000, default: 0 }),
  MAX_HEAP_USED_BYTES: Type.Integer({ minimum: 0, default: 0 }),
  MAX_EVENT_LOOP_UTILIZATION: Type.Number({ minimum: 0, maximum: 1, default: 0 }),
  MIGRATE_ON_START: Type.Optional(Type.Boolean()),
  ALLOW_EMBEDDED_DB: Type.Boolean({ default: false }),
  PUBLIC_URL: Type.Optional(Type.String({ pattern: '^https?://[^\\s/]+(/[^\\s]*)?$' })),
  JWT_ALGORITHM: oneOf(JWT_ALGORITHMS, 'RS256'),
  KEYS_ENCRYPTION_KEY: Type.Optional(Type.String()),
  KEYS_REFRESH_INTERVAL_MS: Type.Integer({ minimum: 100, maximum: 60000, default: 30000 }),
  JWT_SECRET_KEY: Type.Optional(Type.String()),
  JWT_EXPIRE_MINUTES: Type.Integer({ minimum: 1, maximum: 1440, default: 15 }),
  JWT_ISSUER: Type.Optional(Type.String({ minLength: 1 })),
  JWT_AUDIENCE: Type.String({ minLength: 1, default: 'user-service' }),
  REFRESH_TOKEN_EXPIRE_DAYS: Type.Integer({ minimum: 1, maximum: 3650, default: 30 }),
  REFRESH_TOKEN_IDLE_DAYS: Type.Integer({ minimum: 1, maximum: 3650, default: 7 }),
  REFRESH_REUSE_GRACE_SECONDS: Type.Integer({ minimum: 0, maximum: 300, default: 10 }),
  SESSION_PRUNE_INTERVAL_MINUTES: Type.Number({ minimum: 0, maximum: 10080, default: 60 }),
  SESSION_CACHE_MAX_ENTRIES: Type.Integer({ minimum: 0, maximum: 10000000, default: 100000 }),
  REVOCATION_STREAM_HEARTBEAT_SECONDS: Type.Integer({ minimum: 1, maximum: 300, default: 15 }),
  AUDIT_RETENTION_DAYS: Type.Integer({ minimum: 1, maximum: 36500, default: 90 }),
  ARGON2_MEMORY_KIB: Type.Integer({ minimum: 1024, maximum: 4194304, default: 19456 }),
  ARGON2_TIME_COST: Type.Integer({ minimum: 1, maximum: 100, default: 2 }),
  ARGON2_PARALLELISM: Type.Integer({ minimum: 1, maximum: 64, default: 1 }),
  PASSWORD_MIN_LENGTH: Type.Integer({ minimum: PASSWORD_MIN_LENGTH_FLOOR, maximum: PASSWORD_MAX_LENGTH, default: PASSWORD_MIN_LENGTH_FLOOR }),
  BODY_LIMIT_BYTES: Type.Integer({ minimum: 1024, maximum: 104857600, default: 1048576 }),
  CORS_ORIGINS: Type.String({ default: '' }),
  TRUST_PROXY: Type.String({ default: 'false' }),
  LOG_LEVEL: oneOf(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], 'info'),
  REDIS_URL: Type.Optional(Type.String({ pattern: '^(rediss?://.+)?$' })),
  REDIS_KEY_PREFIX: Type.String({ minLength: 1, maxLength: 64, default: 'user-service:' }),
  REDIS_TIMEOUT_MS: Type.Integer({ minimum: 1, maximum: 5000, default: 50 }),
  RATE_LIMIT_ENABLED: Type.Boolean({ default: true }),
  RATE_LIMIT_WINDOW_SECONDS: Type.Integer({ minimum: 1, maximum: 86400, default: 60 }),
  RATE_LIMIT_SIGNIN_MAX: Type.Integer({ minimum: 1, maximum: 1000000, default: DEFAULT_RATE_LIMITS.signin }),
  RATE_LIMIT_REGISTER_MAX: Type.Integer({ minimum: 1, maximum: 1000000, default: DEFAULT_RATE_LIMITS.register }),
  RATE_LIMIT_REFRESH_MAX: Type.Integer({ minimum: 1, maximum: 1000000, default: DEFAULT_RATE_LIMITS.refresh }),
  RATE_LIMIT_SESSIONS_MAX: Type.Integer({ minimum: 1, maximum: 1000000, default: DEFAULT_RATE_LIMITS.sessions }),
  RATE_LIMIT_INTROSPECT_MAX: Type.Integer({ minimum: 1, maximum: 1000000, default: DEFAULT_RATE_LIMITS.introspect }),
  LOGIN_MAX_FAILURES: Type.Integer({ minimum: 1, maximum: 1000, default: 10 }),
  LOGIN_ACCOUNT_MAX_FAILURES: Type.Integer({ minimum: 1, maximum: 100000, default: 50 }),
  OIDC_PROVIDERS: Type.String({ default: '' }),
  OIDC_REDIRECT_ALLOWLIST: Type.String({ default: '' }),
  OIDC_TIMEOUT_MS: Type.Integer({ minimum: 100, maximum: 60000, default: 5000 }),
  OIDC_BREAKER_RESET_MS: Type.Integer({ minimum: 100, maximum: 600000, default: 30000 })
})

export type Env = Static<typeof EnvSchema>

export interface Config {
  env: string
  isProduction: boolean
  port: number
  host: string
  publicUrl: string
  database:
    | { kind: 'postgres'; url: string; poolMax: number }
    | { kind: 'pglite'; dataDir: string | null }
  migrateOnStart: boolean
  /** PostgreSQL timeouts (0 = none): a statement, and connecting or waiting for a pooled connection. */
  dbTimeouts: { statementMs: number; connectMs: number }
  /** The circuit breaker around every database call. */
  breaker: { timeoutMs: number; errorThresholdPercent: number; resetMs: number; volumeThreshold: number }
  metricsEnabled: boolean
  /** Load shedding (@fastify/under-pressure); 0 turns a limit off. */
  loadShedding: { maxEventLoopDelayMs: number; maxHeapUsedBytes: number; maxEventLoopUtilization: number }
  jwt: {
    algorithm: JwtAlgorithm
    secretKey: string | null
    expireMinutes: number
    issuer: string
    audience: string
  }
  argon2: { memoryKib: number; timeCost: number; parallelism: number }
  /** What a new password must be (src/auth/password-policy.ts). */
  passwordPolicy: { minLength: number }
  sessions: {
    /** Absolute lifetime of a session (and of its refresh tokens). */
    absoluteDays: number
    /** A session unused for this long ends. */
    idleDays: number
    /** A rotated refresh token presented again within this many seconds is a race, not theft. */
    reuseGraceSeconds: number
    /** How often this instance prunes ended sessions; 0 turns it off. */
    pruneIntervalMinutes: number
  }
  /** The in-memory view of users and live sessions: how many of each it keeps (0: none, every request reads). */
  sessionCache: { maxEntries: number }
  /** The revocation stream: a heartbeat comment this often while no entry comes. */
  revocationStream: { heartbeatSeconds: number }
  audit: { retentionDays: number } // AUDIT_RETENTION_DAYS: the prune job deletes older events
  bodyLimitBytes: number
  corsOrigins: string[]
  trustProxy: boolean | number | string[]
  logLevel: string
  /** Signing keys in the database (asymmetric algorithms): encryption at rest and refresh interval. */
  keys: { encryptionKey: string | null; refreshIntervalMs: number }
  /** Per-IP limits on the /auth routes: requests per address per window, by rule. */
  rateLimit: { enabled: boolean; windowMs: number; max: Record<RateLimitRule, number> }
  /**
   * Redis for counters shared by every instance (null: counted in the process); keys start with
   * keyPrefix; a call without an answer within timeoutMs is counted in the process instead.
   */
  redis: { url: string; keyPrefix: string; timeoutMs: number } | null
  /** Login throttling (null when RATE_LIMIT_ENABLED=false). */
  loginThrottle: LoginLimits | null
  /** External identity providers (OpenID Connect) and where their sign-ins may return to. */
  oidc: OidcSettings
}

const MIN_KEYS_ENCRYPTION_KEY_LENGTH = 32

export class ConfigError extends Error {
  override name = 'ConfigError'
}

/** OWASP's minimum for argon2id (m=19 MiB, t=2, p=1). */
const OWASP_ARGON2_MEMORY_KIB = 19456

const MIN_HS256_SECRET_BYTES = 32

/** Reads, validates and derives the configuration; throws ConfigError naming the variable. */
export function loadConfig (source: NodeJS.ProcessEnv = process.env, options: { dotenv?: boolean } = {}): Config {
  let env: Env
  try {
    env = envSchema<Env>({ schema: EnvSchema, data: { ...source }, env: false, dotenv: options.dotenv ?? false })
  } catch (error) {
    throw new ConfigError(`invalid configuration: ${describeEnvError(error, source)}`)
  }
  return deriveConfig(env)
}

function deriveConfig (env: Env): Config {
  const isProduction = env.NODE_ENV === 'production'
  const publicUrl = (env.PUBLIC_URL ?? `http://${formatHost(env.HOST)}:${env.PORT}`).replace(/\/+$/, '')
  const database = parseDatabase(env)

  if (env.JWT_ALGORITHM === 'HS256') {
    if (env.JWT_SECRET_KEY === undefined || env.JWT_SECRET_KEY === '') {
      throw new ConfigError('invalid configuration: JWT_SECRET_KEY is required when JWT_ALGORITHM=HS256')
    }
    if (Buffer.byteLength(env.JWT_SECRET_KEY, 'utf8') < MIN_HS256_SECRET_BYTES) {
      throw new ConfigError(`invalid configuration: JWT_SECRET_KEY must be at least ${MIN_HS256_SECRET_BYTES} bytes`)
    }
  }

  const encryptionKey = env.KEYS_ENCRYPTION_KEY === undefined || env.KEYS_ENCRYPTION_KEY === '' ? null : env.KEYS_ENCRYPTION_KEY
  if (encryptionKey !== null && encryptionKey.length < MIN_KEYS_ENCRYPTION_KEY_LENGTH) {
    throw new ConfigError(`invalid configuration: KEYS_ENCRYPTION_KEY must be at least ${MIN_KEYS_ENCRYPTION_KEY_LENGTH} characters (e.g. openssl rand -base64 32)`)
  }

  if (isProduction) {
    if (database.kind === 'pglite' && !env.ALLOW_EMBEDDED_DB) {
      throw new ConfigError('invalid configuration: DATABASE_URL must point at PostgreSQL when NODE_ENV=production (or set ALLOW_EMBEDDED_DB=true)')
    }
    if (env.ARGON2_MEMORY_KIB < OWASP_ARGON2_MEMORY_KIB || env.ARGON2_TIME_COST < 2) {
      throw new ConfigError(`invalid configuration: ARGON2_MEMORY_KIB must be >= ${OWASP_ARGON2_MEMORY_KIB} and ARGON2_TIME_COST >= 2 when NODE_ENV=production`)
    }
    if (env.CORS_ORIGINS.split(',').some((origin) => origin.trim() === '*')) {
      throw new ConfigError('invalid configuration: CORS_ORIGINS must not be * when NODE_ENV=production')
    }
    if (env.JWT_ALGORITHM !== 'HS256' && encryptionKey === null) {
      throw new ConfigError('invalid configuration: KEYS_ENCRYPTION_KEY is required when NODE_ENV=production (private signing keys are encrypted at rest)')
    }
  }

  return {
    env: env.NODE_ENV,
    isProduction,
    port: env.PORT,
    host: env.HOST,
    publicUrl,
    database,
    migrateOnStart: env.MIGRATE_ON_START ?? database.kind === 'pglite',
    dbTimeouts: { statementMs: env.DB_STATEMENT_TIMEOUT_MS, connectMs: env.DB_CONNECT_TIMEOUT_MS },
    breaker: {
      timeoutMs: env.DB_BREAKER_TIMEOUT_MS,
      errorThresholdPercent: env.DB_BREAKER_ERROR_THRESHOLD,
      resetMs: env.DB_BREAKER_RESET_MS,
      volumeThreshold: env.DB_BREAKER_VOLUME
    },
    metricsEnabled: env.METRICS_ENABLED,
    loadShedding: {
      maxEventLoopDelayMs: env.MAX_EVENT_LOOP_DELAY_MS,
      maxHeapUsedBytes: env.MAX_HEAP_USED_BYTES,
      maxEventLoopUtilization: env.MAX_EVENT_LOOP_UTILIZATION
    },
    jwt: {
      algorithm: env.JWT_ALGORITHM,
      secretKey: env.JWT_ALGORITHM === 'HS256' ? env.JWT_SECRET_KEY ?? null : null,
      expireMinutes: env.JWT_EXPIRE_MINUTES,
      issuer: env.JWT_ISSUER ?? publicUrl,
      audience: env.JWT_AUDIENCE
    },
    argon2: {
      memoryKib: env.ARGON2_MEMORY_KIB,
      timeCost: env.ARGON2_TIME_COST,
      parallelism: env.ARGON2_PARALLELISM
    },
    passwordPolicy: { minLength: env.PASSWORD_MIN_LENGTH },
    sessions: {
      absoluteDays: env.REFRESH_TOKEN_EXPIRE_DAYS,
      idleDays: env.REFRESH_TOKEN_IDLE_DAYS,
      reuseGraceSeconds: env.REFRESH_REUSE_GRACE_SECONDS,
      pruneIntervalMinutes: env.SESSION_PRUNE_INTERVAL_MINUTES
    },
    sessionCache: { maxEntries: env.SESSION_CACHE_MAX_ENTRIES },
    revocationStream: { heartbeatSeconds: env.REVOCATION_STREAM_HEARTBEAT_SECONDS },
    audit: { retentionDays: env.AUDIT_RETENTION_DAYS },
    bodyLimitBytes: env.BODY_LIMIT_BYTES,
    corsOrigins: parseCorsOrigins(env.CORS_ORIGINS),
    trustProxy: parseTrustProxy(env.TRUST_PROXY),
    logLevel: env.LOG_LEVEL,
    keys: { encryptionKey, refreshIntervalMs: env.KEYS_REFRESH_INTERVAL_MS },
    rateLimit: {
      enabled: env.RATE_LIMIT_ENABLED,
      windowMs: env.RATE_LIMIT_WINDOW_SECONDS * 1000,
      max: Object.fromEntries(RATE_LIMIT_RULES.map((rule) => [rule, env[`RATE_LIMIT_${rule.toUpperCase() as Uppercase<RateLimitRule>}_MAX`]])) as Record<RateLimitRule, number>
    },
    redis: env.REDIS_URL === undefined || env.REDIS_URL === '' ? null : { url: env.REDIS_URL, keyPrefix: env.REDIS_KEY_PREFIX, timeoutMs: env.REDIS_TIMEOUT_MS },
    loginThrottle: env.RATE_LIMIT_ENABLED ? loginLimits(env) : null,
    oidc: oidcSettings(env)
  }
}

function oidcSettings (env: Env): OidcSettings {
  const allowHttp = env.NODE_ENV === 'development'
  try {
    const providers = parseOidcProviders(env.OIDC_PROVIDERS, allowHttp)
    const redirectAllowlist = parseRedirectAllowlist(env.OIDC_REDIRECT_ALLOWLIST, allowHttp)
    if (providers.length > 0 && redirectAllowlist.length === 0) {
      throw new ConfigError('invalid configuration: OIDC_REDIRECT_ALLOWLIST must list the front-end URLs a sign-in may return to when OIDC_PROVIDERS is set')
    }
    return {
      providers,
      redirectAllowlist,
      timeoutMs: env.OIDC_TIMEOUT_MS,
      breakerResetMs: env.OIDC_BREAKER_RESET_MS
    }
  } catch (error) {
    throw error instanceof OidcConfigError ? new ConfigError(error.message) : error
  }
}

/** LOGIN_* and the fixed parts of the throttle: waits from 30 s doubling to 15 min, failures forgotten after a quiet day. */
function loginLimits (env: Env): LoginLimits {
  return {
    pairMaxFailures: env.LOGIN_MAX_FAILURES,
    accountMaxFailures: env.LOGIN_ACCOUNT_MAX_FAILURES,
    firstWaitMs: 30_000,
    maxWaitMs: 15 * 60_000,
    failureMemoryMs: 24 * 3600_000,
    knownAddressMs: 90 * 24 * 3600_000,
    knownAddressesPerLogin: 20
  }
}

function formatHost (host: string): string {
  return host.includes(':') ? `[${host}]` : host
}

function parseDatabase (env: Env): Config['database'] {
  const url = env.DATABASE_URL
  if (url === undefined || url === '') return { kind: 'pglite', dataDir: env.DATA_DIR }
  if (url === 'memory://') return { kind: 'pglite', dataDir: null }
  return { kind: 'postgres', url, poolMax: env.DB_POOL_MAX }
}

/** `*`, or browser origins: scheme, host and port, as a browser sends them in `Origin`. */
function parseCorsOrigins (value: string): string[] {
  // A trailing slash is a common way to write an origin; browsers send it without one.
  const origins = value.split(',').map((origin) => origin.trim().replace(/(?<=\/\/[^/]+)\/$/, '')).filter((origin) => origin !== '')
  for (const origin of origins) {
    if (origin !== '*' && !isOrigin(origin)) {
      throw new ConfigError(`invalid configuration: CORS_ORIGINS must list origins such as https://app.example.com (scheme, host and port, no path), comma-separated, or * (got "${origin}")`)
    }
  }
  return origins
}

function isOrigin (text: string): boolean {
  try {
    const url = new URL(text)
    return (url.protocol === 'https:' || url.protocol === 'http:') && url.origin === text
  } catch {
    return false
  }
}

function parseTrustProxy (value: string): Config['trustProxy'] {
  const trimmed = value.trim()
  if (trimmed === '' || trimmed === 'false') return false
  if (trimmed === 'true') return true
  if (/^\d+$/.test(trimmed)) return Number(trimmed)
  const entries = trimmed.split(',').map((entry) => entry.trim()).filter((entry) => entry !== '')
  for (const entry of entries) {
    if (!/^[0-9a-fA-F.:]+(\/\d{1,3})?$/.test(entry)) {
      throw new ConfigError(`invalid configuration: TRUST_PROXY must be true, false, a hop count or a list of IPs/CIDRs (got "${entry}")`)
    }
  }
  return entries
}
