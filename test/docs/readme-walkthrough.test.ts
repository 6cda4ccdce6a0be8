import { execFile } from 'node:child_process'
import { once } from 'node:events'
import { readFileSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { promisify } from 'node:util'
import t, { type Test } from 'tap'
import { childEnv, testDatabaseKind } from '../helper.js'
import { startServerProcess, type ServerProcess } from '../server-process.js'

/**
 * The README's curl walk-throughs, run as a reader would paste them (bash, curl, jq) against a
 * real server: every command succeeds, and every output line a section shows comes out, in
 * order, once ids, times, tokens and secrets are made neutral ("…" in the README stands for
 * left-out lines).
 */
const readme = readFileSync('README.md', 'utf8')
const run = promisify(execFile)

interface Block { bash: boolean, text: string }

/** The fenced blocks of the README section under `## heading`: bash (commands) or plain (what they print). */
function sectionBlocks (heading: string): Block[] {
  const start = readme.indexOf(`\n## ${heading}\n`)
  if (start === -1) throw new Error(`the README has no section "## ${heading}"`)
  const end = readme.indexOf('\n## ', start + 1)
  const section = readme.slice(start, end === -1 ? undefined : end)
  return [...section.matchAll(/```(bash)?\n([\s\S]*?)```/g)].map(([, bash, text = '']) => ({ bash: bash !== undefined, text }))
}

/** What differs from run to run: ids, times, tokens, secrets, cursors, key ids, the curl version, the port. */
function neutral (line: string): string {
  return line
    .replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g, '<uuid>')
    .replace(/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z/g, '<time>')
    .replace(/"(iat|exp)":\d+/g, '"$1":<seconds>')
    .replace(/"[A-Za-z0-9_-]{8,}…"/g, '"<cut>…"')
    .replace(/"(refresh_token|kid)": ?"[A-Za-z0-9_-]{20,}"/g, '"$1":"<opaque>"')
    .replace(/"access_token":"[A-Za-z0-9_.-]{100,}"/g, '"access_token":"<cut>…"')
    // Opaque page positions (base64url); null on the last page stays as it is.
    .replace(/"next_cursor":"[A-Za-z0-9_-]+"/g, '"next_cursor":"<cursor>"')
    .replace(/curl\/[\d.]+/g, 'curl/<version>')
    // The issuer is PUBLIC_URL, by default the configured port: 0 here, to take any free one.
    .replace(/127\.0\.0\.1:\d+/g, '127.0.0.1:<port>')
    .trimEnd()
}

/** The lines the README shows for `blocks`, neutral, without blank lines, "…" and "# 3." markers. */
function shownLines (blocks: Block[]): string[] {
  return blocks.filter((block) => !block.bash).flatMap((block) => block.text.split('\n'))
    .map(neutral)
    .filter((line) => line !== '' && line !== '…' && !/^# \d+\.$/.test(line))
}

/** Runs the bash blocks as one script (bash -e -o pipefail) against the server at `url`; its stdout. */
async function runBash (blocks: Block[], url: string): Promise<string> {
  const port = new URL(url).port
  const script = blocks.filter((block) => block.bash).map((block) => block.text).join('\n').replaceAll('127.0.0.1:3000', `127.0.0.1:${port}`)
  const { stdout } = await run('bash', ['-e', '-o', 'pipefail', '-c', script], { env: { PATH: process.env.PATH ?? '' } })
  return stdout
}

/** Every line `shown` is in `stdout`, in that order (other lines may come between them). */
function checkPrinted (t: Test, shown: string[], stdout: string): void {
  const printed = stdout.replace(/\}\{/g, '}\n{').split('\n').map(neutral)
  let next = 0
  const missing: string[] = []
  for (const line of shown) {
    const at = printed.indexOf(line, next)
    if (at === -1) missing.push(line)
    else next = at + 1
  }
  t.ok(shown.length > 0, 'the section shows what its commands print')
  t.same(missing, [], `all ${shown.length} lines the README shows are printed, in order`)
}

const onePerRun = { skip: testDatabaseKind() === 'postgres' && 'one run is enough: it starts a server on an embedded database of its own' }

t.test('the README walk-through runs as written and prints what the README shows', onePerRun, async (t) => {
  const blocks = sectionBlocks('Walk-through with curl and jq')
  const server = await startServerProcess({ DATABASE_URL: 'memory://' })
  t.teardown(() => { server.child.kill('SIGKILL') })
  checkPrinted(t, shownLines(blocks), await runBash(blocks, server.url))
})

/** The reader's `npm run -s cli --`, as the tests run the CLI: from the sources, without a build. */
const CLI = [process.execPath, '--import', import.meta.resolve('tsx'), resolve('src', 'cli.ts')].map((word) => JSON.stringify(word)).join(' ')

t.test('"Operating it with curl": the admin made by the README\'s CLI command, then every admin API command', onePerRun, async (t) => {
  const [setup, setupShown, ...blocks] = sectionBlocks('Operating it with curl')
  // The section opens with the admin made before the server starts, and what that prints.
  const lines = setup?.bash === true ? setup.text.trimEnd().split('\n') : []
  t.same(lines.map((line) => line.includes(' create-admin ') ? 'create-admin' : line), ['create-admin', 'npm start'], 'it starts with create-admin, then npm start')
  t.equal(setupShown?.bash, false, 'and shows what create-admin prints')

  // A new directory each run, as ./data is on a first `npm start`; the CLI runs in it, away from any .env file.
  const home = await mkdtemp(join(tmpdir(), 'user-service-readme-'))
  const env = { DATA_DIR: join(home, 'data') }
  const servers: ServerProcess[] = []
  t.teardown(async () => {
    // The server goes first: the directory is removed once nothing writes to it.
    for (const { child } of servers.filter(({ child }) => child.exitCode === null && child.signalCode === null)) {
      const exited = once(child, 'exit')
      child.kill('SIGKILL')
      await exited
    }
    await rm(home, { recursive: true, force: true })
  })
  const createAdmin = (lines[0] ?? '').replace('npm run -s cli --', CLI)
  t.not(createAdmin, lines[0], 'create-admin runs as the README spells it, with the CLI from the sources')
  const created = await run('bash', ['-e', '-o', 'pipefail', '-c', createAdmin], { cwd: home, env: childEnv({ ...env, LOG_LEVEL: 'silent' }) })
  checkPrinted(t, shownLines(setupShown === undefined ? [] : [setupShown]), created.stdout)

  // `npm start` on the directory the CLI made: the CLI has exited, so the server can take it.
  const server = await startServerProcess(env)
  servers.push(server)
  checkPrinted(t, shownLines(blocks), await runBash(blocks, server.url))
})
