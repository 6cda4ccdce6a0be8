import { Readable } from 'node:stream'
import { runCli } from '../../src/cli/run.js'

export interface CliResult { code: number, stdout: string, stderr: string }

/** Runs the CLI in-process. `stdin`: text to pipe, 'tty' for an interactive terminal, default empty. */
export async function cli (argv: string[], env: Record<string, string>, stdin: string | 'tty' = ''): Promise<CliResult> {
  let stdout = ''
  let stderr = ''
  const input = stdin === 'tty' ? Object.assign(Readable.from([]), { isTTY: true }) : Readable.from(stdin === '' ? [] : [Buffer.from(stdin)])
  const code = await runCli(argv, {
    stdout: { write: (text: string) => { stdout += text } },
    stderr: { write: (text: string) => { stderr += text } },
    stdin: input,
    env: { LOG_LEVEL: 'silent', ...env }
  })
  return { code, stdout, stderr }
}
