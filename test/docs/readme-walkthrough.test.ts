import { execFile } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { promisify } from 'node:util'
import t from 'tap'
import { startServer } from '../db/data-dir-helpers.js'
import { testDatabaseKind } from '../helper.js'

/**
 * The README's curl walk-through, run as a reader would paste it (bash, curl, jq) against a
 * real server: every command succeeds, and every output line it shows comes out, in order,
 * once ids, times and tokens are made neutral ("…" in the README stands for left-out lines).
 */
const readme = readFileSync('README.md', 'utf8')
const section = readme.slice(readme.indexOf('## Walk-through with curl and jq'), readme.indexOf('\n## ', readme.indexOf('## Walk-through with curl and jq') + 1))
const blocks = [...section.matchAll(/```(bash)?\n([\s\S]*?)```/g)].map(([, bash, text = '']) => ({ bash: bash !== undefined, text }))

/** What differs from run to run: ids, times, tokens, key ids, the curl version, the port. */
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

t.test('the README walk-through runs as written and prints what the README shows', { skip: testDatabaseKind() === 'postgres' && 'one run is enough: it uses its own in-memory database' }, async (t) => {
  const server = await startServer(t, { DATABASE_URL: 'memory://' })
  const port = new URL(server.url).port
  const script = blocks.filter((block) => block.bash).map((block) => block.text).join('\n').replaceAll('127.0.0.1:3000', `127.0.0.1:${port}`)
  const { stdout } = await promisify(execFile)('bash', ['-e', '-o', 'pipefail', '-c', script], { env: { PATH: process.env.PATH ?? '' } })
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
  t.same(missing, [], `all ${shown.length} lines the README shows are printed, in order`)
})
