import autocannon from 'autocannon'

export interface LoadOptions {
  url: string
  connections: number
  /** Seconds. */
  duration: number
  method?: 'GET' | 'POST'
  path?: string
  headers?: Record<string, string>
  body?: string
  /** Per-connection request builders (autocannon's `requests`), for bodies that change per request. */
  requests?: autocannon.Request[]
  /** Requests per second over all connections (a probe, not a saturating load). */
  overallRate?: number
  /** The status a response must have to count (default: any 2xx); a load of bad requests expects 400. */
  expectedStatus?: number
  /** Stop after this many requests instead of after `duration` (which is then only a bound). */
  amount?: number
}

export interface LoadResult {
  /** 2xx (or expected-status) responses per second. */
  rps: number
  /** Latency percentiles of those responses, in ms (measured with sub-millisecond resolution). */
  p50: number
  p99: number
  max: number
  ok: number
  non2xx: number
  errors: number
  seconds: number
  statusCodes: Record<string, number>
}

/** What one run records; runs of interleaved slices are merged before they are summarized. */
export interface LoadSample {
  latencies: number[]
  non2xx: number
  errors: number
  seconds: number
  statusCodes: Record<string, number>
}

/**
 * One autocannon run. Latencies are collected from the 'response' events (floats, in ms)
 * rather than autocannon's histogram, which rounds to whole milliseconds.
 */
export async function runLoad (options: LoadOptions): Promise<LoadResult> {
  return summarize([await sampleLoad(options)])
}

export async function sampleLoad (options: LoadOptions): Promise<LoadSample> {
  const latencies: number[] = []
  const statusCodes: Record<string, number> = {}
  const counts = options.expectedStatus === undefined
    ? (status: number) => status >= 200 && status < 300
    : (status: number) => status === options.expectedStatus
  const started = process.hrtime.bigint()
  const result = await new Promise<autocannon.Result>((resolve, reject) => {
    const instance = autocannon({
      url: options.url + (options.path ?? ''),
      connections: options.connections,
      duration: options.duration,
      method: options.method ?? 'GET',
      ...(options.headers === undefined ? {} : { headers: options.headers }),
      ...(options.body === undefined ? {} : { body: options.body }),
      ...(options.requests === undefined ? {} : { requests: options.requests }),
      ...(options.overallRate === undefined ? {} : { overallRate: options.overallRate }),
      ...(options.amount === undefined ? {} : { amount: options.amount }),
      timeout: 10
    }, (error, result) => { clearTimeout(bound); if (error !== null && error !== undefined) reject(error as Error); else resolve(result) })
    // autocannon has no time bound when it counts requests: `duration` is the bound then.
    const bound = options.amount === undefined ? undefined : setTimeout(() => { instance.stop() }, options.duration * 1000)
    instance.on('response', (_client, statusCode, _bytes, responseTime) => {
      statusCodes[statusCode] = (statusCodes[statusCode] ?? 0) + 1
      if (counts(statusCode)) latencies.push(responseTime)
    })
  })
  const seconds = Number(process.hrtime.bigint() - started) / 1e9
  return { latencies, non2xx: result.non2xx, errors: result.errors, seconds, statusCodes }
}

export function summarize (samples: LoadSample[]): LoadResult {
  const latencies = samples.flatMap((sample) => sample.latencies).sort((a, b) => a - b)
  const seconds = samples.reduce((sum, sample) => sum + sample.seconds, 0)
  const statusCodes: Record<string, number> = {}
  for (const sample of samples) {
    for (const [code, count] of Object.entries(sample.statusCodes)) statusCodes[code] = (statusCodes[code] ?? 0) + count
  }
  return {
    rps: seconds === 0 ? 0 : latencies.length / seconds,
    p50: percentile(latencies, 0.5),
    p99: percentile(latencies, 0.99),
    max: latencies.at(-1) ?? 0,
    ok: latencies.length,
    non2xx: samples.reduce((sum, sample) => sum + sample.non2xx, 0),
    errors: samples.reduce((sum, sample) => sum + sample.errors, 0),
    seconds,
    statusCodes
  }
}

/**
 * Runs `first` and `second` alternately in `rounds` slices each, so that a baseline and the
 * service see the same background load on a shared machine, and returns both sets of slices.
 */
export async function interleave<A, B> (rounds: number, first: () => Promise<A>, second: () => Promise<B>): Promise<[A[], B[]]> {
  const firsts: A[] = []
  const seconds: B[] = []
  for (let round = 0; round < rounds; round++) {
    firsts.push(await first())
    seconds.push(await second())
  }
  return [firsts, seconds]
}

export function percentile (sorted: number[], fraction: number): number {
  if (sorted.length === 0) return 0
  return sorted[Math.min(sorted.length - 1, Math.ceil(fraction * sorted.length) - 1)] ?? 0
}

/** A short run whose numbers are thrown away: JIT, connection pools and caches warm up. */
export async function warmUp (options: LoadOptions, seconds: number): Promise<void> {
  if (seconds > 0) await runLoad({ ...options, duration: seconds })
}
