// Runs the test suite on embedded PGlite, then, when TEST_DATABASE_URL is set, again on
// PostgreSQL (coverage is measured on the first run).
import { spawnSync } from 'node:child_process'

function run (label, args, env) {
  process.stdout.write(`\n# tests on ${label}\n`)
  const result = spawnSync('npx', ['tap', ...args, ...process.argv.slice(2)], { stdio: 'inherit', env: { ...process.env, ...env } })
  if (result.status !== 0) process.exit(result.status ?? 1)
}

run('PGlite (embedded)', [], { TEST_DB: 'pglite' })
if (process.env.TEST_DATABASE_URL) {
  run('PostgreSQL', ['--disable-coverage', '--allow-incomplete-coverage'], { TEST_DB: 'postgres' })
} else {
  process.stdout.write('\n# TEST_DATABASE_URL is not set: skipping the PostgreSQL run\n')
}
