import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { childEnv, onlyOnPGliteRun } from '../helper.js'

/** `bench/run.ts --server src --duration 1 ...args`: checks that it exits 0 and returns its stdout. */
async function runBench (t: Test, args: string[], env: Record<string, string> = {}): Promise<string> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'bench/run.ts', '--server', 'src', '--duration', '1', ...args],
    { env: childEnv(env), stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (chunk: Buffer) => { stdout += chunk.toString() })
  child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString() })
  const [code] = await once(child, 'exit') as [number | null]
  t.equal(code, 0, `bench exits 0\n${stderr}`)
  return stdout
}

// Smoke test of `npm run bench`: a 1-second run of one scenario on PGlite. It checks the shape
// of the output (table, JSON file), not the speed.
t.test('bench: a 1-second users/me run prints the table and writes the JSON file', { skip: onlyOnPGliteRun }, async (t) => {
  const resultsDir = t.testdir()
  const stdout = await runBench(t, ['--scenario', 'me', '--connections', '2', '--results-dir', resultsDir])

  const lines = stdout.split('\n')
  t.match(stdout, /user-service bench: pglite, \d+ cpus, node v\d+/)
  t.ok(lines.some((line) => /^scenario\s+metric\s+service\s+baseline\s+ratio\s+target$/.test(line)), 'table header')
  t.ok(lines.some((line) => /^GET \/api\/v1\/users\/me\s+req\/s\s+[\d,]+\s+[\d,]+ \(bare fastify\)\s+\d+\.\d\d \(median of 2 rounds(, pinned)?\)\s+>= 0\.40 (met|MISSED)$/.test(line)), 'users/me row with ratio and target')
  t.ok(lines.some((line) => /^GET \/api\/v1\/users\/me\s+p50 \/ p99 ms\s+[\d.]+ \/ [\d.]+/.test(line)), 'latency row')
  t.ok(lines.some((line) => /^service memory\s+RSS idle \/ peak\s+[\d.,]+ MiB \/ [\d.,]+ MiB/.test(line)), 'memory row')
  t.notOk(lines.some((line) => line.startsWith('warning:')), 'no errors or non-2xx responses')

  const files = readdirSync(resultsDir).filter((name) => name.endsWith('.json'))
  t.equal(files.length, 1, 'one results file')
  t.match(stdout, new RegExp(`results: .*${files[0]?.replace(/[.]/g, '\\.')}`))
  const report = JSON.parse(readFileSync(join(resultsDir, files[0] ?? ''), 'utf8')) as Record<string, unknown>
  t.match(report, {
    timestamp: String,
    machine: { cpus: Number, node: process.version },
    database: 'pglite',
    server: 'src',
    options: { duration: 1, connections: 2, scenarios: ['me'] },
    argon2: { memoryKib: Number, timeCost: Number, parallelism: Number },
    results: {
      me: {
        service: { rps: Number, p50: Number, p99: Number, ok: Number, non2xx: 0, errors: 0 },
        bare: { rps: Number, p50: Number, p99: Number },
        ratio: Number,
        rounds: 2,
        pinned: Boolean,
        rssPeakMiB: Number
      }
    },
    memory: { idleMiB: Number, peakMiB: Number, afterMiB: Number },
    targets: [{ name: 'users/me vs bare route', target: '>= 0.40', value: Number, met: Boolean }],
    errors: [],
    table: Array
  })
  const me = (report.results as { me: { service: { ok: number }, ratio: number } }).me
  t.ok(me.service.ok > 0 && me.ratio > 0, 'requests were answered')
  t.notOk('login' in (report.results as object), 'only the chosen scenario ran')
})

// The limits scenario in a tiny configuration, so that it cannot rot: it needs Redis, at
// TEST_REDIS_URL as the rate-limit tests do (default redis://127.0.0.1:6379, which .ci/run starts).
t.test('bench: the limits scenario compares logins with limits on + Redis and off, and costs a refused request', { skip: onlyOnPGliteRun }, async (t) => {
  const resultsDir = t.testdir()
  const stdout = await runBench(t, ['--scenario', 'limits', '--connections', '2', '--results-dir', resultsDir],
    { BENCH_REDIS_URL: process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379' })

  const lines = stdout.split('\n')
  t.ok(lines.some((line) => /^login, limits on \+ Redis\s+logins\/s\s+[\d.,]+\s+[\d.,]+ \(limits off\)\s+\d+\.\d\d\s+>= 0\.95 (met|MISSED)$/.test(line)), `ratio row\n${stdout}`)
  t.ok(lines.some((line) => /^login, limits on \+ Redis\s+CPU ms per login\s+[\d.]+\s+[\d.]+ \(limits off\)$/.test(line)), 'CPU per login row')
  t.ok(lines.some((line) => /^refused: per-address limit\s+CPU ms per 429\s+[\d.]+\s+[\d,]+ of [\d,]+ were 429, [\d,]+\/s\s+< 1 (met|MISSED)$/.test(line)), 'per-address 429 row')
  t.ok(lines.some((line) => /^refused: login throttling\s+CPU ms per 429\s+/.test(line)), 'login throttling row (a figure, or n/a before login throttling)')
  t.notOk(lines.some((line) => line.startsWith('warning:')), 'no errors, no Redis fallbacks, every burst request refused')

  const files = readdirSync(resultsDir).filter((name) => name.endsWith('.json'))
  const report = JSON.parse(readFileSync(join(resultsDir, files[0] ?? ''), 'utf8')) as { results: { limits: unknown } }
  t.match(report.results.limits, {
    available: true,
    off: { ok: Number, non2xx: 0, errors: 0 },
    on: { ok: Number, non2xx: 0, errors: 0 },
    ratio: Number,
    redisFallbacks: 0,
    perAddress: { available: true, rules: { signin: Number }, statusCodes: { 429: Number } }
  })
  const limits = report.results.limits as { on: { ok: number }, off: { ok: number }, perAddress: { requests: number, throttled: number, rules: { signin: number } } }
  t.ok(limits.on.ok > 0 && limits.off.ok > 0, 'logins succeeded on both sides')
  t.equal(limits.perAddress.throttled, limits.perAddress.requests, 'every burst request was a 429')
  t.equal(limits.perAddress.rules.signin, limits.perAddress.requests, 'the service counted them all as refused by the signin rule')
})
