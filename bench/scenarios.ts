import { availableParallelism } from 'node:os'
import { join } from 'node:path'
import type autocannon from 'autocannon'
import { interleave, percentile, runLoad, sampleLoad, summarize, warmUp, type LoadOptions, type LoadResult, type LoadSample } from './lib/load.js'
import { allCpus, pinToCpus, RssSampler, startLineWorker, startServer, waitQuiet, type ServerProcess } from './lib/processes.js'

export interface Account {
  email: string
  password: string
  accessToken: string
  refreshToken: string | undefined
}

export interface BenchContext {
  root: string
  workDir: string
  service: ServerProcess
  connections: number
  /** Seconds per measured run. */
  duration: number
  /** Seconds of warm-up before each measured run. */
  warmup: number
  accounts: Account[]
  argon2: { memoryKib: number, timeCost: number, parallelism: number }
  /** Environment for the baseline processes (the service's, less the database). */
  baselineEnv: Record<string, string>
  /** The service's environment and node arguments, for scenarios that start services of their own. */
  serviceEnv: Record<string, string>
  serverArgs: string[]
}

export const PASSWORD = 'correct horse battery staple'

/** `node --import tsx file`: baselines always run from their TypeScript sources. */
function tsArgs (context: BenchContext, file: string): string[] {
  return ['--import', 'tsx', join(context.root, 'bench', 'baselines', file)]
}

/** Runs a load while sampling the service's RSS; returns the result and the peak RSS. */
async function measured<T> (context: BenchContext, work: () => Promise<T>): Promise<[T, number]> {
  const sampler = new RssSampler(context.service.pid)
  sampler.start()
  try {
    const result = await work()
    return [result, sampler.stop()]
  } catch (error) {
    sampler.stop()
    throw error
  }
}

/**
 * Requests that cycle through the seeded accounts. (autocannon resets a connection's
 * context after each pass over `requests`, so the account is picked per request.)
 */
function perAccount (context: BenchContext, build: (account: Account, request: autocannon.Request) => autocannon.Request): autocannon.Request[] {
  let next = 0
  return [{
    setupRequest: (request) => {
      const account = context.accounts[next++ % context.accounts.length]
      return account === undefined ? request : build(account, request)
    }
  }]
}

/** Baseline and service run alternately in slices of about 2 s (one slice for short runs). */
function slices (context: BenchContext): { rounds: number, seconds: number } {
  const rounds = Math.max(1, Math.floor(context.duration / 2))
  return { rounds, seconds: context.duration / rounds }
}

async function warmAndRun (context: BenchContext, options: LoadOptions): Promise<LoadResult> {
  await warmUp(options, context.warmup)
  return runLoad(options)
}

function loginLoad (context: BenchContext, connections: number): LoadOptions {
  return {
    url: context.service.url,
    connections,
    duration: context.duration,
    method: 'POST',
    path: '/api/v1/auth/token',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    requests: perAccount(context, (account, request) => ({
      ...request,
      body: new URLSearchParams({ grant_type: 'password', username: account.email, password: account.password }).toString()
    }))
  }
}

export interface MeResult {
  service: LoadResult
  bare: LoadResult
  /** The median over the interleaved rounds of each round's service/bare throughput. */
  ratio: number
  /** The service's own GET /health at full load: its plugins and logging without JWT or database. */
  health: LoadResult
  healthRatio: number
  /** How many rounds of (bare, /users/me, /health) slices the ratios are the median of. */
  rounds: number
  /** Whether the load generator ran on CPU 0 and the servers on CPU 1 (taskset, 2 or more CPUs). */
  pinned: boolean
  rssPeakMiB: number
}

/** Slices of about half a second: each round's ratio compares loads that ran half a second apart. */
const ME_SLICE_SECONDS = 0.5

/**
 * 1. GET /api/v1/users/me with a valid token vs a bare Fastify route in its own process.
 *
 * The loads run in rounds of short slices (bare, /users/me, /health) and the ratio is the
 * median of the rounds' ratios: on a shared machine a burst of background work lands in one
 * slice, and a median of per-round ratios sets it aside where a ratio of totals would not.
 * Where it can, the load generator (this process) runs on CPU 0 and the server under load on
 * CPU 1: otherwise the scheduler puts them on one core now and then, and the server's share
 * of it, not its code, decides the numbers (the bare route's swung between 21,000 and 38,000
 * req/s from one run to the next).
 */
export async function usersMe (context: BenchContext): Promise<MeResult> {
  const bare = await startServer(tsArgs(context, 'bare-server.ts'), {
    env: context.baselineEnv, cwd: context.root, logFile: join(context.workDir, 'bare-server.log')
  })
  const pins: Array<[pid: number, cpus: string]> = [[process.pid, '0'], [context.service.pid, '1'], [bare.pid, '1']]
  const pinned = availableParallelism() >= 2 && pins.every(([pid, cpus]) => pinToCpus(pid, cpus))
  try {
    const rounds = Math.max(1, Math.round(context.duration / ME_SLICE_SECONDS))
    const seconds = context.duration / rounds
    const bareLoad: LoadOptions = { url: bare.url, connections: context.connections, duration: seconds }
    const meLoad: LoadOptions = {
      url: context.service.url,
      connections: context.connections,
      duration: seconds,
      path: '/api/v1/users/me',
      // One prebuilt request per account, cycled: a per-request setupRequest would make the
      // load generator rebuild each request on the 2 cores the service shares with it, a cost
      // the bare route's load does not pay.
      requests: context.accounts.map((account) => ({ headers: { authorization: `Bearer ${account.accessToken}` } }))
    }
    const healthLoad: LoadOptions = { url: context.service.url, connections: context.connections, duration: seconds, path: '/health' }
    await warmUp(bareLoad, context.warmup)
    await warmUp(meLoad, context.warmup)
    const [[bareSamples, serviceSamples], rssPeakMiB] = await measured(context, async () =>
      interleave(rounds, async () => sampleLoad(bareLoad), async () => [await sampleLoad(meLoad), await sampleLoad(healthLoad)] as const))
    const meSamples = serviceSamples.map(([me]) => me)
    const healthSamples = serviceSamples.map(([, healthSample]) => healthSample)
    return {
      service: summarize(meSamples),
      bare: summarize(bareSamples),
      ratio: medianRatio(meSamples, bareSamples),
      health: summarize(healthSamples),
      healthRatio: medianRatio(healthSamples, bareSamples),
      rounds,
      pinned,
      rssPeakMiB
    }
  } finally {
    for (const pid of [process.pid, context.service.pid]) pinToCpus(pid, allCpus())
    await bare.stop()
  }
}

/** The median (the lower middle of an even count) of `samples[i]`'s throughput over `baselines[i]`'s. */
function medianRatio (samples: LoadSample[], baselines: LoadSample[]): number {
  const ratios = samples.map((sample, index) => {
    const baseline = baselines[index]
    return baseline === undefined ? 0 : summarize([sample]).rps / summarize([baseline]).rps
  }).sort((a, b) => a - b)
  return percentile(ratios, 0.5)
}

export interface Argon2Baseline { verifications: number, seconds: number, perSecond: number, threadpool: number }
export interface LoginResult { service: LoadResult, argon2: Argon2Baseline, ratio: number, rssPeakMiB: number }

/** 2. Password-grant logins vs raw argon2.verify at the same parameters and concurrency, interleaved. */
export async function logins (context: BenchContext): Promise<LoginResult> {
  const { memoryKib, timeCost, parallelism } = context.argon2
  const worker = await startLineWorker(
    [...tsArgs(context, 'argon2-verify.ts'), ...[memoryKib, timeCost, parallelism, context.connections].map(String)],
    { env: context.baselineEnv, cwd: context.root })
  try {
    const { rounds, seconds } = slices(context)
    const verify = async (ms: number): Promise<Argon2Baseline> => JSON.parse(await worker.ask(String(Math.round(ms)))) as Argon2Baseline
    const login = async (duration: number): Promise<LoadSample> => {
      const sample = await sampleLoad({ ...loginLoad(context, context.connections), duration })
      await waitQuiet(context.service.pid)
      return sample
    }
    if (context.warmup > 0) {
      await verify(context.warmup * 1000)
      await login(context.warmup)
    }
    const [[verifySlices, loginSlices], rssPeakMiB] = await measured(context, async () =>
      interleave(rounds, async () => verify(seconds * 1000), async () => login(seconds)))
    const verifications = verifySlices.reduce((sum, slice) => sum + slice.verifications, 0)
    const verifySeconds = verifySlices.reduce((sum, slice) => sum + slice.seconds, 0)
    const argon2 = { verifications, seconds: verifySeconds, perSecond: verifications / verifySeconds, threadpool: verifySlices[0]?.threadpool ?? 4 }
    const service = summarize(loginSlices)
    return { service, argon2, ratio: service.rps / argon2.perSecond, rssPeakMiB }
  } finally {
    await worker.stop()
  }
}

export interface RegisterResult { service: LoadResult, rssPeakMiB: number }

/** 3a. Registrations: every request a new account (one argon2 hash and one insert each). */
export async function registrations (context: BenchContext): Promise<RegisterResult> {
  let counter = 0
  const run = `${process.pid.toString(36)}${Date.now().toString(36)}`
  const options: LoadOptions = {
    url: context.service.url,
    connections: context.connections,
    duration: context.duration,
    method: 'POST',
    path: '/api/v1/auth/register',
    headers: { 'content-type': 'application/json' },
    requests: [{
      setupRequest: (request) => {
        counter += 1
        const name = `r${run}${counter}`
        return { ...request, body: JSON.stringify({ email: `${name}@bench.example.com`, username: name, password: PASSWORD }) }
      }
    }]
  }
  const [service, rssPeakMiB] = await measured(context, async () => warmAndRun(context, options))
  return { service, rssPeakMiB }
}

export type RefreshResult = { available: false, note: string } | { available: true, service: LoadResult, rssPeakMiB: number }

/** Is there a refresh endpoint? An unknown route answers 404 problem+json; a known one rejects `{}` otherwise. */
export async function hasRefreshEndpoint (url: string): Promise<boolean> {
  const response = await fetch(`${url}/api/v1/auth/refresh`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })
  await response.arrayBuffer()
  return response.status !== 404
}

/**
 * 3b. Refreshes. Tokens rotate, so requests take a token from a pool (seeded with the
 * accounts' refresh tokens) and put back the one each response returns; a connection's
 * response comes back before it sends its next request, so the pool never runs dry while
 * refreshes succeed.
 */
export async function refreshes (context: BenchContext): Promise<RefreshResult> {
  if (!await hasRefreshEndpoint(context.service.url)) return { available: false, note: 'n/a (sessions not implemented yet)' }
  const pool = context.accounts.flatMap((account) => account.refreshToken === undefined ? [] : [account.refreshToken])
  if (pool.length === 0) return { available: false, note: 'n/a (register returned no refresh_token)' }
  const options: LoadOptions = {
    url: context.service.url,
    connections: Math.min(context.connections, pool.length),
    // Warm-up and measured run would chain on from the same tokens, so they are one run.
    duration: context.duration + context.warmup,
    method: 'POST',
    path: '/api/v1/auth/refresh',
    headers: { 'content-type': 'application/json' },
    requests: [{
      setupRequest: (request) => ({ ...request, body: JSON.stringify({ refresh_token: pool.shift() ?? 'pool-ran-dry' }) }),
      onResponse: (status, body) => {
        if (status !== 200) return
        const token = (JSON.parse(body) as { refresh_token?: unknown }).refresh_token
        if (typeof token === 'string') pool.push(token)
      }
    }]
  }
  const [service, rssPeakMiB] = await measured(context, async () => runLoad(options))
  return { available: true, service, rssPeakMiB }
}

/** The /health probe is a steady trickle (requests/s), like a load balancer's checks, not a load of its own. */
export const HEALTH_PROBE_RATE = 200

export interface HealthResult { idle: LoadResult, storm: LoadResult, stormLogins: LoadResult, rssPeakMiB: number }

/** 4. /health latency at idle, then while a login storm keeps every hashing thread busy. */
export async function healthDuringLoginStorm (context: BenchContext): Promise<HealthResult> {
  const probe: LoadOptions = { url: context.service.url, connections: 2, overallRate: HEALTH_PROBE_RATE, duration: context.duration, path: '/health' }
  const idle = await warmAndRun(context, probe)
  const [[stormLogins, storm], rssPeakMiB] = await measured(context, async () => {
    const logins = runLoad({ ...loginLoad(context, context.connections), duration: context.duration + context.warmup })
    // Let the storm fill the thread pool before probing.
    await new Promise((resolve) => setTimeout(resolve, context.warmup * 1000))
    return Promise.all([logins, runLoad(probe)])
  })
  return { idle, storm, stormLogins, rssPeakMiB }
}

/** Unknown keys in the hostile body: the 80,000 (869 KB), just under the 1 MiB limit. */
export const HOSTILE_KEYS = 80_000

/** A registration body with HOSTILE_KEYS unknown fields: each answer is a 400 listing 20. */
export function hostileBody (): string {
  const body: Record<string, unknown> = { email: 'hostile@bench.example.com', username: 'hostile', password: PASSWORD }
  for (let index = 0; index < HOSTILE_KEYS; index += 1) body[`f${index}`] = 0
  return JSON.stringify(body)
}

export interface HostileResult { idle: LoadResult, underAttack: LoadResult, hostile: LoadResult, answerBytes: number, rssPeakMiB: number }

/**
 * 5. /health latency while two clients loop bodies of 80,000 unknown fields (before the
 * hardening issue: 1.9 s of event loop and a 6.6 MB answer each; /health median 1.4 s).
 */
export async function healthDuringHostileBodies (context: BenchContext): Promise<HostileResult> {
  const probe: LoadOptions = { url: context.service.url, connections: 2, overallRate: HEALTH_PROBE_RATE, duration: context.duration, path: '/health' }
  const body = hostileBody()
  const sample = await fetch(`${context.service.url}/api/v1/auth/register`, { method: 'POST', headers: { 'content-type': 'application/json' }, body })
  const answerBytes = (await sample.arrayBuffer()).byteLength
  if (sample.status !== 400) throw new Error(`a hostile body got ${sample.status}, not 400`)
  const idle = await warmAndRun(context, probe)
  const attack: LoadOptions = {
    url: context.service.url,
    connections: 2,
    duration: context.duration + context.warmup,
    method: 'POST',
    path: '/api/v1/auth/register',
    headers: { 'content-type': 'application/json' },
    body,
    expectedStatus: 400
  }
  const [[hostile, underAttack], rssPeakMiB] = await measured(context, async () => {
    const attacking = runLoad(attack)
    await new Promise((resolve) => setTimeout(resolve, context.warmup * 1000))
    return Promise.all([attacking, runLoad(probe)])
  })
  return { idle, underAttack, hostile, answerBytes, rssPeakMiB }
}
