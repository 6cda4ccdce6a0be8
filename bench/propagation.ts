import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import { createSigner } from 'fast-jwt'
import pg from 'pg'
import { runLoad, type LoadResult } from './lib/load.js'
import { rssMiB, startServer, waitQuiet, type ServerProcess } from './lib/processes.js'
import { seedAccounts, waitReady } from './lib/service.js'
import { RevocationSubscriber } from './lib/subscriber.js'
import { PASSWORD, type BenchContext } from './scenarios.js'

/** Logouts measured per run: the issue asks for a p99 over at least 200 events. */
export const PROPAGATION_EVENTS = 200
/** Users the memory scenario fills the session view with (the default SESSION_CACHE_MAX_ENTRIES). */
export const CACHED_USERS = 100_000

export interface Percentiles { p50: number, p99: number, max: number }

export type PropagationResult = { available: false, note: string } | {
  available: true
  events: number
  /** From sending the logout to A until B refuses the token (ms). */
  instances: Percentiles
  /** From sending the logout to A until the entry arrives on B's revocation stream (ms). */
  subscriber: Percentiles | { note: string }
}

export type CacheMemoryResult = { available: false, note: string } | {
  available: true
  users: number
  rssBeforeMiB: number
  rssAfterMiB: number
  bytesPerUser: number
  fill: LoadResult
}

function percentiles (values: number[]): Percentiles {
  const sorted = [...values].sort((a, b) => a - b)
  const at = (q: number): number => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] ?? 0
  return { p50: at(0.5), p99: at(0.99), max: sorted.at(-1) ?? 0 }
}

async function withDatabase<T> (url: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    return await work(client)
  } finally {
    await client.end()
  }
}

async function startInstance (context: BenchContext, name: string, env: Record<string, string> = {}): Promise<ServerProcess> {
  const instance = await startServer(context.serverArgs, { env: { ...context.serviceEnv, ...env }, cwd: context.root, logFile: join(context.workDir, `${name}.log`) })
  await waitReady(instance.url)
  return instance
}

async function post (url: string, path: string, body: unknown, token?: string): Promise<{ status: number, json: Record<string, unknown> }> {
  const response = await fetch(`${url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token === undefined ? {} : { authorization: `Bearer ${token}` }) },
    body: JSON.stringify(body)
  })
  const text = await response.text()
  return { status: response.status, json: text === '' ? {} : JSON.parse(text) as Record<string, unknown> }
}

async function meStatus (url: string, token: string): Promise<number> {
  const response = await fetch(`${url}/api/v1/users/me`, { headers: { authorization: `Bearer ${token}` } })
  await response.arrayBuffer()
  return response.status
}

/**
 * 6. Revocation propagation (PostgreSQL: two instances, one database). Each event: a login on
 * A, the token used on B (so B holds it in memory), a logout on A; then B is asked until it
 * refuses, and B's revocation stream is watched for the entry.
 */
export async function revocationPropagation (context: BenchContext): Promise<PropagationResult> {
  const databaseUrl = context.serviceEnv.DATABASE_URL
  if (databaseUrl === undefined) return { available: false, note: 'n/a on PGlite (one process: nothing to propagate to)' }
  const b = await startInstance(context, 'instance-b')
  const [reader] = await seedAccounts(context.service.url, 1)
  if (reader === undefined) throw new Error('seeding the feed reader failed')
  await withDatabase(databaseUrl, async (client) => client.query("update users set roles = '{user,admin}' where email = $1", [reader.email]))
  const subscriber = await RevocationSubscriber.open(b.url, reader.accessToken)
  try {
    const account = context.accounts[0]
    if (account === undefined) throw new Error('no seeded account')
    const toB: number[] = []
    const toSubscriber: number[] = []
    for (let event = 0; event < PROPAGATION_EVENTS; event += 1) {
      const signedIn = await post(context.service.url, '/api/v1/auth/login', { login: account.email, password: PASSWORD })
      const token = String(signedIn.json.access_token)
      if (await meStatus(b.url, token) !== 200) throw new Error('B refused a fresh token')
      const sid = (JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString()) as { sid: string }).sid
      const arrival = subscriber?.arrivalOf(sid)
      const sent = performance.now()
      await post(context.service.url, '/api/v1/auth/logout', {}, token)
      const deadline = sent + 5000
      while (await meStatus(b.url, token) !== 401) {
        if (performance.now() > deadline) throw new Error(`B still accepted a token 5 s after its logout (event ${event})`)
      }
      toB.push(performance.now() - sent)
      if (arrival !== undefined) toSubscriber.push(await arrival - sent)
    }
    return {
      available: true,
      events: PROPAGATION_EVENTS,
      instances: percentiles(toB),
      subscriber: subscriber === undefined ? { note: 'n/a (no /auth/revocations/stream)' } : percentiles(toSubscriber)
    }
  } finally {
    subscriber?.close()
    await b.stop()
  }
}

/**
 * 7. RSS with CACHED_USERS users and sessions in the view (PostgreSQL): they are inserted in
 * SQL, their tokens signed here (an instance of its own with an HS256 secret of this run), and
 * each used once; the RSS before and after, over the users, is the cost of one kept user.
 */
export async function cacheMemory (context: BenchContext): Promise<CacheMemoryResult> {
  const databaseUrl = context.serviceEnv.DATABASE_URL
  if (databaseUrl === undefined) return { available: false, note: 'n/a on PGlite (the users are inserted from outside the service)' }
  const secret = randomBytes(32).toString('base64url')
  const instance = await startInstance(context, 'instance-memory', { JWT_ALGORITHM: 'HS256', JWT_SECRET_KEY: secret })
  try {
    const run = randomBytes(4).toString('hex')
    const rows = await withDatabase(databaseUrl, async (client) => (await client.query<{ sub: string, sid: string }>(`
      with new_users as (
        insert into users (id, email, username, hashed_password, full_name)
        select gen_random_uuid(), 'cached' || $1 || n || '@bench.example.com', 'cached' || $1 || n,
          -- As long as a real argon2id hash (97 characters), which the view keeps with the account.
          '$argon2id$v=19$m=19456,t=2,p=1$' || substr(md5(n::text), 1, 22) || '$' || rtrim(encode(sha256(n::text::bytea), 'base64'), '='),
          'Cached User ' || n
        from generate_series(1, $2::int) as n returning id)
      insert into sessions (id, user_id, expires_at) select gen_random_uuid(), id, now() + interval '1 day' from new_users
      returning user_id::text as sub, id::text as sid`, [run, CACHED_USERS])).rows)
    const sign = createSigner({ key: secret, algorithm: 'HS256', header: { alg: 'HS256', typ: 'at+jwt' } })
    const issuer = context.serviceEnv.JWT_ISSUER ?? instance.url
    const now = Math.floor(Date.now() / 1000)
    const tokens = rows.map(({ sub, sid }) => sign({
      iss: issuer, aud: context.serviceEnv.JWT_AUDIENCE ?? 'user-service', sub, sid, client_id: 'public', iat: now, exp: now + 600, jti: randomBytes(8).toString('hex'), roles: ['user']
    }) as string)
    await waitQuiet(instance.pid)
    const rssBeforeMiB = rssMiB(instance.pid) ?? 0
    let next = 0
    const fill = await runLoad({
      url: instance.url,
      connections: context.connections,
      amount: tokens.length,
      // A bound, not the measure: the run ends after `amount` requests.
      duration: 300,
      path: '/api/v1/users/me',
      requests: [{ setupRequest: (request) => ({ ...request, headers: { authorization: `Bearer ${tokens[next++ % tokens.length] ?? ''}` } }) }]
    })
    await waitQuiet(instance.pid)
    const rssAfterMiB = rssMiB(instance.pid) ?? 0
    return { available: true, users: tokens.length, rssBeforeMiB, rssAfterMiB, bytesPerUser: Math.round((rssAfterMiB - rssBeforeMiB) * 2 ** 20 / tokens.length), fill }
  } finally {
    await instance.stop()
  }
}
