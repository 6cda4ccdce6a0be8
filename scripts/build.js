// `npm run build`: compiles the service into dist/ and stamps the build, so that `npm start`
// and `npm run cli` compile again only when a source has changed since (a no-op tsc run
// still takes 5-10 s, which every start used to pay).
import { spawnSync } from 'node:child_process'
import { closeSync, openSync, readdirSync, statSync, utimesSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath, URL } from 'node:url'

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..')
const stampOf = (root) => join(root, 'dist', '.build-stamp')
/** What the build reads: a change to any of them makes dist/ stale. */
const SOURCES = ['src', 'plugins', 'routes', 'migrations', 'package.json', 'package-lock.json', 'tsconfig.json', 'tsconfig.build.json']

function newestChange (path) {
  const stats = statSync(path, { throwIfNoEntry: false })
  if (stats === undefined) return 0
  if (!stats.isDirectory()) return stats.mtimeMs
  return readdirSync(path).reduce((newest, name) => Math.max(newest, newestChange(join(path, name))), stats.mtimeMs)
}

/** True when dist/ under `root` is missing or older than a source. */
export function buildIsStale (root = ROOT) {
  const built = statSync(stampOf(root), { throwIfNoEntry: false })?.mtimeMs ?? 0
  return SOURCES.some((source) => newestChange(join(root, source)) > built)
}

/** Runs tsc and stamps the build; returns tsc's exit status. */
export function build () {
  let tsc
  try {
    tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc')
  } catch {
    process.stderr.write('user-service: dist/ is out of date and TypeScript is not installed: run "npm ci" (with dev dependencies) first\n')
    return 1
  }
  const { status } = spawnSync(process.execPath, [tsc, '-p', join(ROOT, 'tsconfig.build.json')], { stdio: 'inherit', cwd: ROOT })
  if (status !== 0) return status ?? 1
  const now = new Date()
  closeSync(openSync(stampOf(ROOT), 'a'))
  utimesSync(stampOf(ROOT), now, now)
  return 0
}

const isEntry = import.meta.url === new URL(process.argv[1] ?? '', 'file://').href
if (isEntry) process.exitCode = build()
