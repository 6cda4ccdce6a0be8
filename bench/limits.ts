import { join } from 'node:path'
import type autocannon from 'autocannon'
import { sampleLoad, summarize, type LoadOptions, type LoadResult, type LoadSample } from './lib/load.js'
import { cpuSeconds, startServer, waitQuiet, type ServerProcess } from './lib/processes.js'
import { DEFAULT_BENCH_REDIS_URL, deleteKeys, redisAddress, redisUnreachable } from './lib/redis.js'
import { seedAccounts, waitReady } from './lib/service.js'
import { type Account, type BenchContext } from './scenarios.js'

const TOKEN_PATH = '/api/v1/auth/token'
const FORM = { 'content-type': 'application/x-www-form-urlencoded' }

/** The n-th simulated client address of a block: 10.<block>.x.y (65,536 per block). */
export function forwarded (block: number, n: number): string {
  return `10.${block}.${(n >> 8) & 255}.${n & 255}`
}

function passwordGrant (username: string, password: string): string {
  return new URLSearchParams({ grant_type: 'password', username, password }).toString()
}

/** `request` with `body`, sent on behalf of `address` (X-Forwarded-For). */
function from (request: autocannon.Request, address: string, body: string): autocannon.Request {
  return { ...request, headers: { ...request.headers, 'x-forwarded-for': address }, body }
}

/** One of the two services compared: its process, its accounts, the next simulated address, its CPU seconds and logins in measured slices. */
interface Side { server: ServerProcess, accounts: Account[], addresses: number, cpuSeconds: number, logins: number }

/** Figures of one burst of refused requests. */
export interface ThrottledCost {
  /** Responses, and how many were 429 (the result counts only when they are all 429). */
  requests: number
  throttled: number
  statusCodes: Record<string, number>
  /** The service's own count of refusals during the burst, by rule (`http_rate_limited_total`). */
  rules: Record<string, number>
  /** Service CPU (user + system, every thread) over the burst, in ms, and per response. */
  cpuMs: number
  perRequestMs: number
  perSecond: number
}
export type Throttled = { available: false, note: string } | ({ available: true } & ThrottledCost)

export type LimitsResult = { available: false, note: string } | {
  available: true
  redis: string
  /** Logins with limits off, and with limits on and Redis. */
  off: LoadResult
  on: LoadResult
  ratio: number
  /** on/off per round, to show the spread. */
  roundRatios: number[]
  /** The service's CPU time (every thread) per login it counted, each side (null: no /proc or no /metrics). */
  cpuPerLoginMs: { off: number, on: number } | null
  /** Requests the limits-on service counted in its process because Redis was slow or down (null: no /metrics). */
  redisFallbacks: number | null
  /** 429s of the per-IP limit (@fastify/rate-limit) and of login throttling. */
  perAddress: Throttled
  perLogin: Throttled
}

/**
 * 7. Password-grant logins with limits on and Redis vs limits off: two service processes
 * (limits off; limits on at their defaults with REDIS_URL), the same accounts and load,
 * interleaved. Then what a refused request costs the limits-on service. The services trust
 * loopback as a proxy (TRUST_PROXY) and every login comes from its own X-Forwarded-For
 * address, so the default per-address limits never refuse a measured login.
 */
export async function loginsWithLimits (context: BenchContext): Promise<LimitsResult> {
  const redisUrl = process.env.BENCH_REDIS_URL ?? DEFAULT_BENCH_REDIS_URL
  const unreachable = await redisUnreachable(redisUrl)
  if (unreachable !== null) return { available: false, note: `n/a: no Redis at ${redisAddress(redisUrl)} (${unreachable}); set BENCH_REDIS_URL` }
  const prefix = `user-service-bench-${process.pid}-${Date.now().toString(36)}:`
  const servers: ServerProcess[] = []
  try {
    const start = async (name: string, env: Record<string, string>): Promise<Side> => {
      const server = await startVariant(context, name, env)
      servers.push(server)
      return { server, accounts: [], addresses: 0, cpuSeconds: 0, logins: 0 }
    }
    const off = await start('limits-off', { RATE_LIMIT_ENABLED: 'false' })
    // REDIS_TIMEOUT_MS: a call slower than its budget is counted in the process, which skips Redis and
    // starts a fresh count per address: on a busy machine the default 50 ms would measure some of that.
    const on = await start('limits-on', { RATE_LIMIT_ENABLED: 'true', REDIS_URL: redisUrl, REDIS_KEY_PREFIX: prefix, REDIS_TIMEOUT_MS: '1000' })
    on.accounts = await seedAccounts(on.server.url, context.connections, (index) => ({ 'x-forwarded-for': forwarded(4, index) }))
    off.accounts = 'DATABASE_URL' in context.serviceEnv ? on.accounts : await seedAccounts(off.server.url, context.connections)
    const compared = await compare(context, off, on)
    const redisFallbacks = (await serviceCounts(on.server.url)).fallbacks
    // Per address: one address, a new unknown login each time. Per login: one unknown login, a new address each time.
    const perAddress = await throttledCost(context, on.server, () => '10.2.0.1', (n) => passwordGrant(`ip-burst-${n}@bench.example.com`, 'wrong password'))
    const perLogin = await throttledCost(context, on.server, (n) => forwarded(3, n), () => passwordGrant('login-burst@bench.example.com', 'wrong password'))
    return { available: true, redis: redisAddress(redisUrl), ...compared, redisFallbacks, perAddress, perLogin }
  } finally {
    for (const server of servers) await server.stop()
    await deleteKeys(redisUrl, prefix).catch(() => 0)
  }
}

/**
 * A service like the bench's own, trusting loopback as its proxy, with `env` on top. Limits
 * are at the service's defaults: RATE_LIMIT_*, LOGIN_* and REDIS_* from the bench's
 * environment are dropped. On PGlite (one process per data directory) it gets its own.
 */
async function startVariant (context: BenchContext, name: string, env: Record<string, string>): Promise<ServerProcess> {
  const base = Object.fromEntries(Object.entries(context.serviceEnv).filter(([key]) => !/^(RATE_LIMIT_|LOGIN_|REDIS_)/.test(key)))
  const dataDir: Record<string, string> = 'DATA_DIR' in base ? { DATA_DIR: join(context.workDir, `data-${name}`) } : {}
  const server = await startServer(context.serverArgs, {
    env: { ...base, ...dataDir, TRUST_PROXY: '127.0.0.1', ...env }, cwd: context.root, logFile: join(context.workDir, `${name}.log`)
  })
  try {
    await waitReady(server.url)
  } catch (error) {
    await server.stop()
    throw error
  }
  return server
}

/** Logins round robin over the side's accounts, each from a new simulated address. */
function loginOptions (context: BenchContext, side: Side, duration: number): LoadOptions {
  return {
    url: side.server.url,
    connections: context.connections,
    duration,
    method: 'POST',
    path: TOKEN_PATH,
    headers: FORM,
    requests: [{
      setupRequest: (request) => {
        const n = side.addresses++
        const account = side.accounts[n % side.accounts.length]
        return account === undefined
          ? request
          : from(request, forwarded(1, n), passwordGrant(account.email, account.password))
      }
    }]
  }
}

interface Compared { off: LoadResult, on: LoadResult, ratio: number, roundRatios: number[], cpuPerLoginMs: { off: number, on: number } | null }

/**
 * Both sides in an even number of rounds (at least 2) of about 2 s each, in the order off-on,
 * on-off, off-on...: each side goes first as often as the other, so a trend in the machine's
 * load favours neither. The service's CPU time is read around each slice, up to the end of
 * the logins still in flight when the slice stopped (`waitQuiet`).
 */
async function compare (context: BenchContext, off: Side, on: Side): Promise<Compared> {
  const rounds = Math.max(2, 2 * Math.floor(context.duration / 4))
  const run = async (side: Side, duration: number): Promise<LoadSample> => accounted(side, async () => sampleLoad(loginOptions(context, side, duration)))
  if (context.warmup > 0) {
    await run(off, context.warmup)
    await run(on, context.warmup)
  }
  for (const side of [off, on]) Object.assign(side, { cpuSeconds: 0, logins: 0 })
  const samples = new Map<Side, LoadSample[]>([[off, []], [on, []]])
  for (let round = 0; round < rounds; round++) {
    for (const side of round % 2 === 0 ? [off, on] : [on, off]) samples.get(side)?.push(await run(side, context.duration / rounds))
  }
  const [offSamples = [], onSamples = []] = [samples.get(off), samples.get(on)]
  const roundRatios = onSamples.map((sample, round) => summarize([sample]).rps / summarize([offSamples[round] ?? sample]).rps)
  const [offResult, onResult] = [summarize(offSamples), summarize(onSamples)]
  const perLogin = (side: Side): number => side.cpuSeconds * 1000 / side.logins
  const cpuPerLoginMs = Number.isFinite(perLogin(off) + perLogin(on)) ? { off: perLogin(off), on: perLogin(on) } : null
  return { off: offResult, on: onResult, ratio: onResult.rps / offResult.rps, roundRatios, cpuPerLoginMs }
}

/**
 * Runs `work` (a slice of logins) and waits for the logins still in flight when it stopped;
 * adds the service's CPU time over that and the logins it counted (`auth_logins_total`) to
 * the side's: the CPU per login pairs the two exactly, whichever logins the client saw end.
 */
async function accounted<T> (side: Side, work: () => Promise<T>): Promise<T> {
  const loginsBefore = (await serviceCounts(side.server.url)).logins
  const cpuBefore = cpuSeconds(side.server.pid)
  const result = await work()
  await waitQuiet(side.server.pid)
  const cpuAfter = cpuSeconds(side.server.pid)
  const loginsAfter = (await serviceCounts(side.server.url)).logins
  side.cpuSeconds += (cpuAfter ?? Number.NaN) - (cpuBefore ?? Number.NaN)
  side.logins += (loginsAfter ?? Number.NaN) - (loginsBefore ?? Number.NaN)
  return result
}

/** `http_rate_limited_total` by rule and `rate_limit_redis_fallbacks_total` from the service's /metrics. */
async function serviceCounts (url: string): Promise<{ rules: Record<string, number>, fallbacks: number | null, logins: number | null }> {
  const response = await fetch(`${url}/metrics`)
  const text = await response.text()
  if (response.status !== 200) return { rules: {}, fallbacks: null, logins: null }
  const rules: Record<string, number> = {}
  for (const [, rule, value] of text.matchAll(/^http_rate_limited_total\{rule="([^"]+)"\} (\S+)$/gm)) rules[rule ?? ''] = Number(value)
  const number = (pattern: RegExp): number | null => { const value = pattern.exec(text)?.[1]; return value === undefined ? null : Number(value) }
  // A labelled counter has no line before its first increment.
  return { rules, fallbacks: number(/^rate_limit_redis_fallbacks_total (\S+)$/m), logins: number(/^auth_logins_total\{result="success"\} (\S+)$/m) ?? 0 }
}

/** Attempts `prime` makes: twice the largest default limit it must pass (LOGIN_ACCOUNT_MAX_FAILURES, 50). */
const PRIME_ATTEMPTS = 100

/** Sends wrong passwords one at a time until one is refused with 429 (at most PRIME_ATTEMPTS, or 60 s); the attempts it took, or null. */
async function prime (url: string, request: () => { address: string, body: string }): Promise<number | null> {
  const deadline = Date.now() + 60_000
  for (let attempt = 1; attempt <= PRIME_ATTEMPTS && Date.now() < deadline; attempt++) {
    const { address, body } = request()
    const response = await fetch(`${url}${TOKEN_PATH}`, { method: 'POST', headers: { ...FORM, 'x-forwarded-for': address }, body })
    await response.arrayBuffer()
    if (response.status === 429) return attempt
  }
  return null
}

/**
 * What refused sign-ins cost the service: once requests of this shape are refused (`prime`),
 * a burst of them at full concurrency, the service's CPU time before and after (from /proc),
 * divided by the responses. Its own /metrics says which rule refused them.
 */
async function throttledCost (context: BenchContext, server: ServerProcess, address: (n: number) => string, body: (n: number) => string): Promise<Throttled> {
  let n = 0
  const next = (): { address: string, body: string } => { const request = { address: address(n), body: body(n) }; n += 1; return request }
  if (await prime(server.url, next) === null) return { available: false, note: `n/a (nothing refused after ${PRIME_ATTEMPTS} attempts)` }
  const load = (amount: number): LoadOptions => ({
    url: server.url,
    connections: context.connections,
    amount,
    duration: 30,
    method: 'POST',
    path: TOKEN_PATH,
    headers: FORM,
    requests: [{ setupRequest: (request) => { const { address, body } = next(); return from(request, address, body) } }],
    expectedStatus: 429
  })
  if (context.warmup > 0) await sampleLoad(load(500))
  await waitQuiet(server.pid)
  const before = { cpu: cpuSeconds(server.pid), counts: await serviceCounts(server.url) }
  if (before.cpu === null) return { available: false, note: 'n/a (no /proc to read CPU time from)' }
  const burst = await sampleLoad(load(Math.min(4000, Math.max(200, 400 * context.duration))))
  await waitQuiet(server.pid)
  const cpuMs = ((cpuSeconds(server.pid) ?? before.cpu) - before.cpu) * 1000
  const after = await serviceCounts(server.url)
  const rules = Object.fromEntries(Object.entries(after.rules)
    .map(([rule, count]) => [rule, count - (before.counts.rules[rule] ?? 0)] as const).filter(([, count]) => count > 0))
  const requests = Object.values(burst.statusCodes).reduce((sum, count) => sum + count, 0)
  const throttled = burst.statusCodes['429'] ?? 0
  return { available: true, requests, throttled, statusCodes: burst.statusCodes, rules, cpuMs, perRequestMs: cpuMs / Math.max(1, requests), perSecond: throttled / burst.seconds }
}
