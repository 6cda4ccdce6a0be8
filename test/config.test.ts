import t from 'tap'
import { ConfigError, loadConfig } from '../src/config.js'

t.test('defaults: embedded PGlite under ./data, RS256, OWASP argon2 parameters', async (t) => {
  const config = loadConfig({})
  t.equal(config.port, 3000)
  t.equal(config.host, '127.0.0.1')
  t.equal(config.publicUrl, 'http://127.0.0.1:3000')
  t.same(config.database, { kind: 'pglite', dataDir: './data' })
  t.equal(config.migrateOnStart, true)
  t.same(config.jwt, { algorithm: 'RS256', secretKey: null, expireMinutes: 15, issuer: 'http://127.0.0.1:3000', audience: 'user-service' })
  t.same(config.argon2, { memoryKib: 19456, timeCost: 2, parallelism: 1 })
  t.same(config.passwordPolicy, { minLength: 8 })
  t.equal(config.bodyLimitBytes, 1048576)
  t.equal(config.trustProxy, false)
})

t.test('derived values', async (t) => {
  t.same(loadConfig({ DATABASE_URL: 'memory://' }).database, { kind: 'pglite', dataDir: null })
  const pg = loadConfig({ DATABASE_URL: 'postgres://db/app', DB_POOL_MAX: '4' })
  t.same(pg.database, { kind: 'postgres', url: 'postgres://db/app', poolMax: 4 })
  t.equal(pg.migrateOnStart, false, 'no auto-migrate on PostgreSQL by default')
  t.equal(loadConfig({ DATABASE_URL: 'postgres://db/app', MIGRATE_ON_START: 'true' }).migrateOnStart, true)
  const urls = loadConfig({ PUBLIC_URL: 'https://auth.example.com/', JWT_AUDIENCE: 'orders' })
  t.equal(urls.publicUrl, 'https://auth.example.com')
  t.equal(urls.jwt.issuer, 'https://auth.example.com')
  t.equal(urls.jwt.audience, 'orders')
  t.equal(loadConfig({ HOST: '::1', PORT: '8080' }).publicUrl, 'http://[::1]:8080')
  t.same(loadConfig({ CORS_ORIGINS: 'https://a.example, https://b.example' }).corsOrigins, ['https://a.example', 'https://b.example'])
  t.equal(loadConfig({ TRUST_PROXY: 'true' }).trustProxy, true)
  t.equal(loadConfig({ TRUST_PROXY: '2' }).trustProxy, 2)
  t.same(loadConfig({ TRUST_PROXY: '10.0.0.0/8,127.0.0.1' }).trustProxy, ['10.0.0.0/8', '127.0.0.1'])
  t.same(loadConfig({ PASSWORD_MIN_LENGTH: '12' }).passwordPolicy, { minLength: 12 })
})

t.test('a bad value is refused with a message naming the variable', async (t) => {
  const cases: Array<[Record<string, string>, RegExp]> = [
    [{ PORT: 'abc' }, /PORT/],
    [{ PORT: '70000' }, /PORT/],
    [{ JWT_ALGORITHM: 'none' }, /JWT_ALGORITHM/],
    [{ JWT_EXPIRE_MINUTES: '0' }, /JWT_EXPIRE_MINUTES/],
    [{ DATABASE_URL: 'mysql://x' }, /DATABASE_URL/],
    [{ LOG_LEVEL: 'loud' }, /LOG_LEVEL/],
    [{ MIGRATE_ON_START: 'maybe' }, /MIGRATE_ON_START/],
    [{ ARGON2_MEMORY_KIB: '10' }, /ARGON2_MEMORY_KIB/],
    [{ TRUST_PROXY: 'everyone' }, /TRUST_PROXY/],
    [{ JWT_ALGORITHM: 'HS256' }, /JWT_SECRET_KEY is required/],
    [{ JWT_ALGORITHM: 'HS256', JWT_SECRET_KEY: 'too-short-secret' }, /JWT_SECRET_KEY must be at least 32 bytes/]
  ]
  for (const [env, message] of cases) {
    t.throws(() => loadConfig(env), { name: 'ConfigError', message }, JSON.stringify(env))
  }
  t.ok(new ConfigError('x') instanceof Error)
})

/** What loadConfig says of `env`: its refusal, or "accepted". */
function message (env: Record<string, string>): string {
  try {
    loadConfig(env)
  } catch (error) {
    return (error as Error).message
  }
  return 'accepted'
}

t.test('a refusal is one clause per variable, with the allowed values and what was given', async (t) => {
  t.equal(message({ JWT_ALGORITHM: 'foo' }), 'invalid configuration: JWT_ALGORITHM must be one of RS256, ES256, EdDSA, HS256 (got "foo")')
  t.equal(message({ LOG_LEVEL: 'verbose' }), 'invalid configuration: LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent (got "verbose")')
  t.equal(message({ NODE_ENV: 'prod' }), 'invalid configuration: NODE_ENV must be one of development, production, test (got "prod")')
  t.equal(message({ PORT: 'abc' }), 'invalid configuration: PORT must be an integer (got "abc")')
  t.equal(message({ MIGRATE_ON_START: 'maybe' }), 'invalid configuration: MIGRATE_ON_START must be true or false (got "maybe")')
  t.equal(message({ PORT: '-1', LOG_LEVEL: 'x' }),
    'invalid configuration: PORT must be at least 0 (got "-1"); LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent (got "x")')
  t.equal(message({ CORS_ORIGINS: 'notaurl' }),
    'invalid configuration: CORS_ORIGINS must list origins such as https://app.example.com (scheme, host and port, no path), comma-separated, or * (got "notaurl")')
  t.match(message({ CORS_ORIGINS: 'https://app.example/path' }), /CORS_ORIGINS .*\(got "https:\/\/app\.example\/path"\)$/)
  t.same(loadConfig({ CORS_ORIGINS: 'https://app.example/,*' }).corsOrigins, ['https://app.example', '*'], 'a trailing slash is forgiven')
  const secretUrl = message({ DATABASE_URL: 'mysql://admin:hunter2@db/app' })
  t.equal(secretUrl, 'invalid configuration: DATABASE_URL must be a PostgreSQL URL (postgres://user:password@host:5432/database) or memory://')
  t.notMatch(secretUrl, /hunter2/, 'a URL that may hold a password is not echoed')
  t.equal(message({ PASSWORD_MIN_LENGTH: '6' }),
    'invalid configuration: PASSWORD_MIN_LENGTH must be at least 8, the shortest password NIST SP 800-63B allows (got "6")')
  t.equal(message({ PASSWORD_MIN_LENGTH: '129' }), 'invalid configuration: PASSWORD_MIN_LENGTH must be at most 128 (got "129")')
  t.equal(message({ PASSWORD_MIN_LENGTH: 'twelve' }), 'invalid configuration: PASSWORD_MIN_LENGTH must be an integer (got "twelve")')
})

t.test('NODE_ENV=production refuses insecure settings', async (t) => {
  const production = { NODE_ENV: 'production', DATABASE_URL: 'postgres://db/app', KEYS_ENCRYPTION_KEY: 'k'.repeat(32) }
  t.throws(() => loadConfig({ NODE_ENV: 'production' }), { message: /DATABASE_URL must point at PostgreSQL/ }, 'embedded DB')
  t.equal(loadConfig({ NODE_ENV: 'production', ALLOW_EMBEDDED_DB: 'true', KEYS_ENCRYPTION_KEY: 'k'.repeat(32) }).database.kind, 'pglite', 'unless explicitly allowed')
  t.throws(() => loadConfig({ ...production, JWT_ALGORITHM: 'HS256', JWT_SECRET_KEY: 'short' }), { message: /JWT_SECRET_KEY/ })
  t.throws(() => loadConfig({ ...production, ARGON2_MEMORY_KIB: '4096' }), { message: /ARGON2_MEMORY_KIB/ })
  t.throws(() => loadConfig({ ...production, CORS_ORIGINS: '*' }), { message: /CORS_ORIGINS/ })
  t.equal(loadConfig(production).isProduction, true)
})

t.test('rate limits and Redis: defaults, per-rule settings, clear messages that never echo a Redis password', async (t) => {
  const defaults = loadConfig({})
  t.same(defaults.rateLimit, { enabled: true, windowMs: 60000, max: { signin: 20, register: 10, refresh: 60, sessions: 120, introspect: 3000 } })
  t.equal(defaults.redis, null, 'no REDIS_URL: counters in the process')
  t.equal(loadConfig({ REDIS_URL: '' }).redis, null)
  t.same(loadConfig({ REDIS_URL: 'rediss://:pw@redis.internal:6380/2', REDIS_KEY_PREFIX: 'auth:' }).redis, { url: 'rediss://:pw@redis.internal:6380/2', keyPrefix: 'auth:', timeoutMs: 50 })
  const custom = loadConfig({ RATE_LIMIT_ENABLED: 'false', RATE_LIMIT_WINDOW_SECONDS: '300', RATE_LIMIT_SIGNIN_MAX: '5', RATE_LIMIT_INTROSPECT_MAX: '100000' })
  t.same(custom.rateLimit, { enabled: false, windowMs: 300000, max: { signin: 5, register: 10, refresh: 60, sessions: 120, introspect: 100000 } })
  const secretUrl = message({ REDIS_URL: 'http://:hunter2@redis.internal:6379' })
  t.equal(secretUrl, 'invalid configuration: REDIS_URL must be a Redis URL such as redis://:password@redis.internal:6379/0 (rediss:// for TLS)')
  t.notMatch(secretUrl, /hunter2/)
  t.equal(message({ RATE_LIMIT_ENABLED: 'sometimes' }), 'invalid configuration: RATE_LIMIT_ENABLED must be true or false (got "sometimes")')
  t.equal(message({ RATE_LIMIT_SIGNIN_MAX: '0' }), 'invalid configuration: RATE_LIMIT_SIGNIN_MAX must be at least 1 (got "0")')
  t.equal(message({ RATE_LIMIT_WINDOW_SECONDS: '1.5' }), 'invalid configuration: RATE_LIMIT_WINDOW_SECONDS must be an integer (got "1.5")')
  t.equal(message({ REDIS_KEY_PREFIX: 'p'.repeat(65) }), `invalid configuration: REDIS_KEY_PREFIX must be at most 64 characters (got "${'p'.repeat(65)}")`)
})

t.test('login throttling: defaults, settings, off with the rate limits', async (t) => {
  t.match(loadConfig({}).loginThrottle, { pairMaxFailures: 10, accountMaxFailures: 50, firstWaitMs: 30_000, maxWaitMs: 900_000 })
  t.match(loadConfig({ LOGIN_MAX_FAILURES: '5', LOGIN_ACCOUNT_MAX_FAILURES: '500' }).loginThrottle, { pairMaxFailures: 5, accountMaxFailures: 500 })
  t.equal(loadConfig({ RATE_LIMIT_ENABLED: 'false' }).loginThrottle, null)
  t.equal(message({ LOGIN_MAX_FAILURES: '0' }), 'invalid configuration: LOGIN_MAX_FAILURES must be at least 1 (got "0")')
  t.equal(message({ LOGIN_ACCOUNT_MAX_FAILURES: 'many' }), 'invalid configuration: LOGIN_ACCOUNT_MAX_FAILURES must be an integer (got "many")')
})
