// `npm start` (and `npm run cli`): compiles only when dist/ is older than the sources, then
// runs the compiled entry in this process, so SIGTERM reaches the server itself.
import { fileURLToPath, URL } from 'node:url'
import { build, buildIsStale } from './build.js'

const entry = process.argv[2] === 'cli' ? 'cli' : 'server'
if (buildIsStale()) {
  process.stderr.write('user-service: compiling TypeScript into dist/ (the sources changed since the last build)\n')
  const status = build()
  if (status !== 0) process.exit(status)
}
// The entries start when they are the script node was given: make them so.
const script = new URL(`../dist/src/${entry}.js`, import.meta.url)
process.argv.splice(1, entry === 'cli' ? 2 : 1, fileURLToPath(script))
await import(script.href)
