import { spawn, type ChildProcess } from 'node:child_process'
import { chmodSync, lstatSync, readdirSync } from 'node:fs'
import { join, relative } from 'node:path'
import type { Test } from 'tap'
import { childEnv, testDatabaseKind } from '../helper.js'
import { listeningUrl } from '../server-process.js'

/** Shared by the DATA_DIR tests: PGlite only, PostgreSQL keeps its own data directory. */
export const skip = testDatabaseKind() === 'postgres' && 'DATA_DIR is the embedded (PGlite) database only'

export interface Child { child: ChildProcess, output: () => string, errors: () => string, exited: Promise<number | null> }

/** Runs `args` under `sh` with umask 022 (the usual one), as `uid` when given. */
export function run (args: string[], env: Record<string, string>, options: { uid?: number, wrap?: string[] } = {}): Child {
  // tap's process tracking (NODE_OPTIONS) writes to .tap/ on exit, which another user cannot.
  const script = `umask 022 && ${options.uid === undefined ? '' : 'unset NODE_OPTIONS && '}exec "$@"`
  const command = ['sh', '-c', script, 'sh', process.execPath, '--import', 'tsx', ...args]
  const [file = 'sh', ...rest] = [...options.wrap ?? [], ...command]
  const ids = options.uid === undefined ? {} : { uid: options.uid, gid: options.uid }
  const child = spawn(file, rest, { env: childEnv({ PORT: '0', LOG_LEVEL: 'info', HOME: '/tmp', ...env }), stdio: ['ignore', 'pipe', 'pipe'], ...ids })
  let output = ''
  let errors = ''
  child.stdout?.on('data', (chunk: Buffer) => { output += chunk.toString() })
  child.stderr?.on('data', (chunk: Buffer) => { output += chunk.toString(); errors += chunk.toString() })
  const exited = new Promise<number | null>((resolve) => { child.on('close', (code) => { resolve(code) }) })
  return { child, output: () => output, errors: () => errors, exited }
}

/** A server process; resolves with its URL once it listens (a failed start rejects with its output). */
export async function startServer (t: Test, env: Record<string, string>): Promise<Child & { url: string }> {
  const server = run(['src/server.ts'], { SESSION_PRUNE_INTERVAL_MINUTES: '0', ...env })
  t.teardown(() => { server.child.kill('SIGKILL') })
  return { ...server, url: await listeningUrl(server.child, server.output) }
}

/** A process that is expected to fail: its exit code and what it told people on stderr (its JSON log goes to stdout). */
export async function failure (args: string[], env: Record<string, string>, options: { uid?: number, wrap?: string[] } = {}): Promise<{ code: number | null, lines: string[] }> {
  const started = run(args, env, options)
  // Should it start after all, stop it: the test fails on its exit code, not on a timeout.
  started.child.stdout?.on('data', () => { if (started.output().includes('Server listening at')) started.child.kill('SIGTERM') })
  const code = await started.exited
  return { code, lines: started.errors().split('\n').filter((line) => line !== '') }
}

/** Every entry under `root` that is not a 0700 directory or a 0600 file, as "<mode> <path>". */
export function notPrivate (root: string): string[] {
  const found: string[] = []
  const visit = (path: string): void => {
    const entry = lstatSync(path)
    const mode = entry.mode & 0o777
    if (mode !== (entry.isDirectory() ? 0o700 : 0o600)) found.push(`${mode.toString(8)} ${relative(root, path) || '.'}`)
    if (entry.isDirectory()) for (const name of readdirSync(path)) visit(join(path, name))
  }
  visit(root)
  return found
}

/** Makes every entry under `root` readable by others (directories 0755, files 0644), as older versions left them; returns how many. */
export function loosen (root: string): number {
  let count = 0
  const visit = (path: string): void => {
    const directory = lstatSync(path).isDirectory()
    chmodSync(path, directory ? 0o755 : 0o644)
    count += 1
    if (directory) for (const name of readdirSync(path)) visit(join(path, name))
  }
  visit(root)
  return count
}
