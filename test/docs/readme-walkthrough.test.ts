import { execFile } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { promisify } from 'node:util'
import t, { type Test } from 'tap'
import { childEnv, testDatabaseKind } from '../helper.js'
import { startServerProcess } from '../server-process.js'

/**
 * The README's curl walk-throughs, run as a reader would paste them (bash, curl, jq) against a
 * real server: every command succeeds, and every output line they show comes out, in order,
 * once ids, times and tokens are made neutral ("…" in the README stands for left-out lines).
 */
const readme = readFileSync('README.md', 'utf8')

interface Block { bash: boolean, text: string }

function sectionBlocks (heading: string): Block[] {
  const start = readme.indexOf(`## ${heading}\n`)
  if (start === -1) throw new Error(`README has no section "${heading}"`)
  const section = readme.slice(start, readme.indexOf('\n## ', start + 1))
  return [...section.matchAll(/```(bash)?\n([\s\S]*?)```/g)].map(([, bash, text = '']) => ({ bash: bash !== undefined, text }))
}

/** What differs from run to run: ids, times, tokens, secrets, key ids, the curl version, the port. */
function neutral (line: string): string {
  return line
    .replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g, '<uuid>')
    .replace(/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z/g, '<time>')
    .replace(/"(iat|exp)":\d+/g, '"$1":<seconds>')
    .replace(/"[A-Za-z0-9_-]{8,}…"/g, '"<cut>…"')
    .replace(/"(refresh_token|kid)": ?"[A-Za-z0-9_-]{20,}"/g, '"$1":"<opaque>"')
    .replace(/"access_token":"[A-Za-z0-9_.-]{100,}"/g, '"access_token":"<cut>…"')
    .replace(/curl\/[\d.]+/g, 'curl/<version>')
    // The issuer is PUBLIC_URL, by default the configured port: 0 here, to take any free one.
    .replace(/127\.0\.0\.1:\d+/g, '127.0.0.1:<port>')
    .trimEnd()
}

const run = promisify(execFile)

/** Runs the section's bash blocks against `url` and checks that the outputs it shows come out, in order. */
async function checkSection (t: Test, blocks: Block[], url: string): Promise<void> {
  const port = new URL(url).port
  const script = blocks.filter((block) => block.bash).map((block) => block.text).join('\n').replaceAll('127.0.0.1:3000', `127.0.0.1:${port}`)
  const { stdout } = await run('bash', ['-e', '-o', 'pipefail', '-c', script], { env: { PATH: process.env.PATH ?? '' } })
  const printed = stdout.replace(/\}\{/g, '}\n{').split('\n').map(neutral)

  const shown = blocks.filter((block) => !block.bash).flatMap((block) => block.text.split('\n'))
    .map(neutral)
    .filter((line) => line !== '' && line !== '…' && !/^# \d+\.$/.test(line))
  let next = 0
  const missing: string[] = []
  for (const line of shown) {
    const at = printed.indexOf(line, next)
    if (at === -1) missing.push(line)
    else next = at + 1
  }
  t.ok(shown.length > 5, 'the section shows outputs')
  t.same(missing, [], `all ${shown.length} lines the README shows are printed, in order`)
}

const onePerRun = { skip: testDatabaseKind() === 'postgres' && 'one run is enough: it uses its own embedded database' }

t.test('the README walk-through runs as written and prints what the README shows', onePerRun, async (t) => {
  const server = await startServerProcess({ DATABASE_URL: 'memory://' })
  t.teardown(() => { server.child.kill('SIGKILL') })
  await checkSection(t, sectionBlocks('Walk-through with curl and jq'), server.url)
})

t.test('"Operating it with curl" runs as written: the admin made by the CLI, then the admin API', onePerRun, async (t) => {
  const [setup, ...blocks] = sectionBlocks('Operating it with curl')
  if (setup === undefined || !setup.text.includes('create-admin')) throw new Error('the section starts with the create-admin command')
  const dataDir = join(t.testdir(), 'data')
  // The README's own command, with the CLI run from source; the server is started below instead of `npm start &`.
  const createAdmin = setup.text.split('\n').filter((line) => line.includes('create-admin')).join('\n')
    .replace('npm run -s cli --', `${JSON.stringify(process.execPath)} --import tsx src/cli.ts`)
  const { stdout } = await run('bash', ['-e', '-c', createAdmin], { env: childEnv({ DATA_DIR: dataDir, LOG_LEVEL: 'warn' }) })
  t.match(stdout, /^created admin ops \(\S+\) <ops@example.com>/)

  const server = await startServerProcess({ DATA_DIR: dataDir })
  t.teardown(() => { server.child.kill('SIGKILL') })
  await checkSection(t, blocks, server.url)
})
