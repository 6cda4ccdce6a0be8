import { execFileSync, spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { closeSync, openSync, readFileSync } from 'node:fs'
import { availableParallelism } from 'node:os'
import { setTimeout as sleep } from 'node:timers/promises'

/** A process under test, listening on loopback. Its stdout and stderr go to `logFile`. */
export interface ServerProcess {
  child: ChildProcess
  pid: number
  url: string
  logFile: string
  stop: () => Promise<void>
}

const LISTENING = /Server listening at (http:\/\/127\.0\.0\.1:\d+)/

/** Every process startServer started, until it exits: `stopAll` ends them on Ctrl-C. */
const running = new Set<ChildProcess>()

export async function stopAll (): Promise<void> {
  await Promise.all([...running].map(stopProcess))
}

/**
 * Spawns `node ...args` and resolves once it prints "Server listening at". Output goes to a
 * file, not a pipe, so the load generator spends no CPU draining the service's logs.
 */
export async function startServer (args: string[], options: { env: Record<string, string>, cwd: string, logFile: string, timeoutMs?: number }): Promise<ServerProcess> {
  const fd = openSync(options.logFile, 'w')
  const child = spawn(process.execPath, args, { cwd: options.cwd, env: options.env, stdio: ['ignore', fd, fd] })
  closeSync(fd)
  let exited: number | null | undefined
  running.add(child)
  child.on('exit', (code) => { exited = code; running.delete(child) })
  const deadline = Date.now() + (options.timeoutMs ?? 120_000)
  for (;;) {
    const output = readFileSync(options.logFile, 'utf8')
    const url = LISTENING.exec(output)?.[1]
    if (url !== undefined && child.pid !== undefined) {
      const pid = child.pid
      return { child, pid, url, logFile: options.logFile, stop: async () => stopProcess(child) }
    }
    if (exited !== undefined) throw new Error(`${args.join(' ')} exited with ${exited}:\n${output.slice(-4000)}`)
    if (Date.now() > deadline) {
      child.kill('SIGKILL')
      throw new Error(`${args.join(' ')} did not start listening:\n${output.slice(-4000)}`)
    }
    await sleep(50)
  }
}

export async function stopProcess (child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  const exited = once(child, 'exit')
  child.kill('SIGTERM')
  const timer = setTimeout(() => child.kill('SIGKILL'), 12_000)
  await exited
  clearTimeout(timer)
}

/** A child that answers each line written to its stdin with one line on its stdout. */
export interface LineWorker {
  ask: (line: string) => Promise<string>
  stop: () => Promise<void>
}

/** Spawns `node ...args` and resolves once it prints "ready". */
export async function startLineWorker (args: string[], options: { env: Record<string, string>, cwd: string }): Promise<LineWorker> {
  const child = spawn(process.execPath, args, { cwd: options.cwd, env: options.env, stdio: ['pipe', 'pipe', 'pipe'] })
  let stderr = ''
  child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString() })
  let buffered = ''
  const waiting: Array<{ resolve: (line: string) => void, reject: (error: Error) => void }> = []
  child.stdout.on('data', (chunk: Buffer) => {
    buffered += chunk.toString()
    let newline: number
    while ((newline = buffered.indexOf('\n')) !== -1) {
      const line = buffered.slice(0, newline)
      buffered = buffered.slice(newline + 1)
      waiting.shift()?.resolve(line)
    }
  })
  child.on('exit', (code) => {
    for (const waiter of waiting.splice(0)) waiter.reject(new Error(`${args.join(' ')} exited with ${code}:\n${stderr}`))
  })
  const next = async (): Promise<string> => new Promise((resolve, reject) => { waiting.push({ resolve, reject }) })
  const ready = await next()
  if (ready !== 'ready') throw new Error(`${args.join(' ')} said "${ready}" instead of "ready":\n${stderr}`)
  return {
    ask: async (line) => {
      const answer = next()
      child.stdin.write(`${line}\n`)
      return answer
    },
    stop: async () => {
      child.stdin.end()
      await stopProcess(child)
    }
  }
}

/** Resident set size of a process in MiB, from /proc/<pid>/status (null where there is no /proc). */
export function rssMiB (pid: number): number | null {
  try {
    const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
    return match?.[1] === undefined ? null : Number(match[1]) / 1024
  } catch {
    return null
  }
}

/** CPU seconds (user + system) a process has used, from /proc/<pid>/stat (null where there is no /proc). */
export function cpuSeconds (pid: number): number | null {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /, '').split(' ')
    return (Number(fields[11]) + Number(fields[12])) / 100
  } catch {
    return null
  }
}

/**
 * Waits until a process uses under 10% of a core for 100 ms (at most `maxMs`): work a load
 * generator left behind when it stopped (queued logins) must not spill into the next slice.
 */
export async function waitQuiet (pid: number, maxMs = 3000): Promise<void> {
  const deadline = Date.now() + maxMs
  let before = cpuSeconds(pid)
  while (before !== null && Date.now() < deadline) {
    await sleep(100)
    const after = cpuSeconds(pid)
    if (after === null || after - before < 0.01) return
    before = after
  }
}

/** Samples a process's RSS every `intervalMs` while load runs; `peak()` is the highest seen. */
export class RssSampler {
  #timer: NodeJS.Timeout | undefined
  #peak = 0

  constructor (private readonly pid: number, private readonly intervalMs = 100) {}

  start (): void {
    this.#peak = rssMiB(this.pid) ?? 0
    this.#timer = setInterval(() => { this.#peak = Math.max(this.#peak, rssMiB(this.pid) ?? 0) }, this.intervalMs)
    this.#timer.unref()
  }

  stop (): number {
    clearInterval(this.#timer)
    this.#peak = Math.max(this.#peak, rssMiB(this.pid) ?? 0)
    return this.#peak
  }
}

/**
 * Pins a process, all its threads, to `cpus` ("0", "1", "0-3") with taskset; false where that
 * cannot be done (no taskset, not Linux). Threads started later inherit the pinning.
 */
export function pinToCpus (pid: number, cpus: string): boolean {
  try {
    execFileSync('taskset', ['--all-tasks', '--cpu-list', '--pid', cpus, String(pid)], { stdio: 'ignore' })
    return true
  } catch {
    return false
  }
}

/** Every CPU of this machine, as taskset lists them. */
export function allCpus (): string {
  return `0-${availableParallelism() - 1}`
}
