// `npm run bench`: starts the service as a real process on loopback, seeds accounts through
// the API, load-generates with autocannon and compares with baselines measured in the same
// run. See docs/performance.md.
import { existsSync } from 'node:fs'
import { mkdir, writeFile } from 'node:fs/promises'
import { cpus, loadavg, totalmem } from 'node:os'
import { dirname, join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { loadConfig } from '../src/config.js'
import { createBenchDatabase, type BenchDatabase } from './lib/database.js'
import { rssMiB, startServer, stopAll, type ServerProcess } from './lib/processes.js'
import { seedAccounts, waitReady } from './lib/service.js'
import { errorSummary, evaluateTargets, formatTable, type Memory, type ScenarioResults } from './lib/report.js'
import { loginsWithLimits } from './limits.js'
import { cacheMemory, revocationPropagation } from './propagation.js'
import { healthDuringHostileBodies, healthDuringLoginStorm, logins, refreshes, registrations, usersMe, type BenchContext } from './scenarios.js'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const SCENARIOS = ['me', 'login', 'register', 'refresh', 'health', 'hostile', 'limits', 'propagation', 'cache-memory'] as const
type Scenario = typeof SCENARIOS[number]

const { values: args } = parseArgs({
  options: {
    duration: { type: 'string', default: '5' },
    connections: { type: 'string', default: '8' },
    scenario: { type: 'string', default: SCENARIOS.join(',') },
    server: { type: 'string', default: 'dist' },
    'results-dir': { type: 'string', default: join(root, 'bench', 'results') },
    profile: { type: 'string' },
    help: { type: 'boolean', default: false }
  }
})

if (args.help) {
  console.log(`usage: npm run bench -- [--duration S (1-10, default 5)] [--connections N (default 8)]
  [--scenario ${SCENARIOS.join(',')}] [--server dist|src] [--results-dir DIR]
  [--profile DIR (node --cpu-prof of the service, written to DIR when it stops)]
BENCH_DATABASE_URL=postgres://USER@HOST:PORT/DB (admin URL): run on a fresh PostgreSQL database, dropped after.
Without it: embedded PGlite in a fresh temporary directory.
BENCH_REDIS_URL (default redis://127.0.0.1:6379): the Redis of the limits scenario (n/a without one).`)
  process.exit(0)
}

const duration = Number(args.duration)
const connections = Number(args.connections)
const scenarios = args.scenario.split(',').map((name) => name.trim()).filter((name) => name !== '')
const unknown = scenarios.filter((name) => !(SCENARIOS as readonly string[]).includes(name))
if (!Number.isFinite(duration) || duration < 1 || duration > 10) fail('--duration must be 1-10 seconds')
if (!Number.isInteger(connections) || connections < 1 || connections > 64) fail('--connections must be 1-64')
if (unknown.length > 0 || scenarios.length === 0) fail(`--scenario takes a comma list of ${SCENARIOS.join(', ')}`)
if (args.server !== 'dist' && args.server !== 'src') fail('--server must be dist or src')
const profileArgs = args.profile === undefined ? [] : ['--cpu-prof', '--cpu-prof-dir', args.profile]
const serverArgs = [...profileArgs, ...(args.server === 'dist' ? [join(root, 'dist', 'src', 'server.js')] : ['--import', 'tsx', join(root, 'src', 'server.ts')])]
if (args.server === 'dist' && !existsSync(join(root, 'dist', 'src', 'server.js'))) fail('dist/src/server.js is missing: run `npm run build` (npm run bench does) or pass --server src')
const wanted = (name: Scenario): boolean => scenarios.includes(name)

function fail (message: string): never {
  console.error(`bench: ${message}`)
  process.exit(2)
}

function progress (message: string): void {
  process.stderr.write(`# ${message}\n`)
}

let database: BenchDatabase | undefined
let service: ServerProcess | undefined
async function cleanUp (): Promise<void> {
  await service?.stop()
  service = undefined
  await stopAll()
  await database?.drop()
  database = undefined
}
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => { cleanUp().finally(() => process.exit(130)) })
}

async function main (): Promise<void> {
  const started = new Date()
  const loadBefore = loadavg()
  database = await createBenchDatabase(process.env.BENCH_DATABASE_URL)
  const kind = database.kind
  const inherited = Object.fromEntries(Object.entries(process.env)
    .filter((entry): entry is [string, string] => entry[1] !== undefined && !['DATABASE_URL', 'DATA_DIR', 'PUBLIC_URL'].includes(entry[0])))
  const baselineEnv = { ...inherited }
  const serviceEnv: Record<string, string> = {
    ...baselineEnv,
    ...database.env,
    PORT: '0',
    HOST: '127.0.0.1',
    // The production default; the bench reads "Server listening at" from the info log.
    LOG_LEVEL: 'info',
    MIGRATE_ON_START: 'true',
    ALLOW_EMBEDDED_DB: 'true',
    RATE_LIMIT_ENABLED: 'false'
  }
  const config = loadConfig(serviceEnv)
  progress(`database ${kind}, server from ${args.server}, ${connections} connections, ${duration} s per run`)
  service = await startServer(serverArgs, { env: serviceEnv, cwd: root, logFile: join(database.workDir, 'service.log') })
  await waitReady(service.url)
  const accounts = await seedAccounts(service.url, connections)
  await new Promise((resolve) => setTimeout(resolve, 1000))
  const memory: Memory = { idleMiB: rssMiB(service.pid), peakMiB: null, afterMiB: null }

  const context: BenchContext = {
    root,
    workDir: database.workDir,
    service,
    connections,
    duration,
    warmup: duration >= 3 ? 1 : 0,
    accounts,
    argon2: config.argon2,
    baselineEnv,
    serviceEnv,
    serverArgs
  }
  const results: ScenarioResults = {}
  if (wanted('me')) { progress('users/me vs bare fastify'); results.me = await usersMe(context) }
  if (wanted('login')) { progress('logins vs argon2.verify'); results.login = await logins(context) }
  if (wanted('register')) { progress('registrations'); results.register = await registrations(context) }
  if (wanted('refresh')) { progress('refreshes'); results.refresh = await refreshes(context) }
  if (wanted('health')) { progress('/health during a login storm'); results.health = await healthDuringLoginStorm(context) }
  if (wanted('hostile')) { progress('/health while two clients send 80,000-field bodies'); results.hostile = await healthDuringHostileBodies(context) }
  if (wanted('limits')) { progress('logins with limits on + Redis vs off; CPU of refused requests'); results.limits = await loginsWithLimits(context) }
  if (wanted('propagation')) { progress('revocation propagation: two instances and a stream subscriber'); results.propagation = await revocationPropagation(context) }
  if (wanted('cache-memory')) { progress('RSS with 100,000 users in the session view'); results.cacheMemory = await cacheMemory(context) }
  await new Promise((resolve) => setTimeout(resolve, 1000))
  memory.afterMiB = rssMiB(service.pid)
  const peaks = [results.me?.rssPeakMiB, results.login?.rssPeakMiB, results.register?.rssPeakMiB,
    results.refresh?.available === true ? results.refresh.rssPeakMiB : undefined, results.health?.rssPeakMiB, results.hostile?.rssPeakMiB,
    memory.idleMiB, memory.afterMiB]
  memory.peakMiB = Math.max(...peaks.filter((value): value is number => typeof value === 'number'))
  await cleanUp()

  const targets = evaluateTargets(results)
  const table = formatTable(results, memory, targets)
  const errors = errorSummary(results)
  const cpuList = cpus()
  const report = {
    timestamp: started.toISOString(),
    seconds: (Date.now() - started.getTime()) / 1000,
    machine: {
      cpus: cpuList.length,
      cpuModel: cpuList[0]?.model ?? 'unknown',
      memoryMiB: Math.round(totalmem() / 2 ** 20),
      node: process.version,
      platform: `${process.platform}-${process.arch}`,
      /** 1-minute load average before and after the run: other work on the machine skews every figure. */
      loadavg: { before: loadBefore[0], after: loadavg()[0] }
    },
    database: kind,
    server: args.server,
    options: { duration, connections, warmup: context.warmup, scenarios, logLevel: 'info' },
    argon2: config.argon2,
    threadpool: Number(serviceEnv.UV_THREADPOOL_SIZE ?? 4),
    results,
    memory,
    targets,
    errors,
    table
  }
  const resultsDir = args['results-dir']
  await mkdir(resultsDir, { recursive: true })
  const file = join(resultsDir, `${started.toISOString().replace(/[:.]/g, '-')}.json`)
  await writeFile(file, JSON.stringify(report, null, 2) + '\n')

  console.log(`\nuser-service bench: ${report.database}, ${report.machine.cpus} cpus, node ${report.machine.node}, ` +
    `${connections} connections, ${duration} s per run, argon2id m=${config.argon2.memoryKib} t=${config.argon2.timeCost} p=${config.argon2.parallelism}, ` +
    `load average ${loadBefore[0]?.toFixed(1)} -> ${loadavg()[0]?.toFixed(1)}\n`)
  for (const line of table) console.log(line)
  for (const line of errors) console.log(`warning: ${line}`)
  console.log(`\nresults: ${relative(process.cwd(), file) || file}`)
}

main().catch(async (error: unknown) => {
  console.error(`bench: ${error instanceof Error ? error.stack ?? error.message : String(error)}`)
  await cleanUp().catch(() => {})
  process.exit(1)
})
