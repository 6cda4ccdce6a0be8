import { spawn, type ChildProcess } from 'node:child_process'
import { childEnv } from './helper.js'

export interface ServerProcess {
  child: ChildProcess
  url: string
  /** Everything it wrote so far, stdout and stderr. */
  output: () => string
}

/** What Fastify logs once the server listens, with its base URL. */
export const SERVER_LISTENING = /Server listening at (http:\/\/127\.0\.0\.1:\d+)/

/**
 * The base URL a starting process prints (`listening`'s first group); rejects with its
 * output when it exits first, or when it is still not listening after `deadlineMs` (a stuck
 * process, not a measurement: a busy machine needs far less).
 */
export async function listeningUrl (child: ChildProcess, output: () => string, listening = SERVER_LISTENING, deadlineMs = 180_000): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => { reject(new Error(`server did not start:\n${output()}`)) }, deadlineMs)
    const look = (): void => {
      const match = listening.exec(output())
      if (match?.[1] !== undefined) { clearTimeout(timer); resolve(match[1]) }
    }
    // After the test's own listeners, which collect the output this reads.
    child.stdout?.on('data', look)
    child.stderr?.on('data', look)
    child.on('exit', (code) => { clearTimeout(timer); reject(new Error(`server exited with ${String(code)}:\n${output()}`)) })
  })
}

/** Starts `src/server.ts` as a real process (PORT 0, LOG_LEVEL info) and resolves once it listens. */
export async function startServerProcess (env: Record<string, string>): Promise<ServerProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
    env: childEnv({ PORT: '0', LOG_LEVEL: 'info', ...env }),
    stdio: ['ignore', 'pipe', 'pipe']
  })
  let text = ''
  child.stdout?.on('data', (chunk: Buffer) => { text += chunk.toString() })
  child.stderr?.on('data', (chunk: Buffer) => { text += chunk.toString() })
  const output = (): string => text
  return { child, url: await listeningUrl(child, output), output }
}
