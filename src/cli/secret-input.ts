import { CliError, EXIT_USAGE, type CliIo } from './common.js'

/** The environment variable `variable`, else all of stdin minus one trailing newline. Never a default. */
export async function readSecretInput (io: CliIo, variable: string, what: string): Promise<string> {
  const missing = (): CliError => new CliError(`no ${what} given: set ${variable} or pipe it on stdin`, EXIT_USAGE)
  const fromEnv = io.env[variable]
  if (fromEnv !== undefined && fromEnv !== '') return fromEnv
  if (io.stdin.isTTY === true) throw missing()
  const chunks: Buffer[] = []
  for await (const chunk of io.stdin) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk)
  const secret = Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '')
  if (secret === '') throw missing()
  return secret
}
