import { spawnSync } from 'node:child_process'
import { chmodSync, chownSync, lstatSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { cli } from '../cli/in-process.js'
import { migratedDatabaseEnv } from '../setup/databases.js'
import { failure, loosen, notPrivate, skip } from './data-dir-helpers.js'

/**
 * Opening the embedded data directory (DESIGN.md, "Hardening rules → Embedded data
 * directory"): what is there is made private, what others can write is refused, and what
 * cannot be used says so in one line (data-dir-server.test.ts: real servers and the lock).
 */
const isRoot = process.getuid?.() === 0
const NOBODY = 65534

t.test('an existing directory that others can read is made private, and the command says so', { skip }, async (t) => {
  const env = await migratedDatabaseEnv(t)
  const dataDir = env.DATA_DIR ?? ''
  const entries = loosen(dataDir)
  const result = await cli(['migrate', 'status', '--check'], env)
  t.equal(result.code, 0, result.stderr)
  t.equal(result.stderr, `user-service: DATA_DIR "${dataDir}": tightened the permissions of ${entries} entries that other users could read or write (., PG_VERSION, base, ...): directories are now 0700, files 0600\n`)
  t.same(notPrivate(dataDir), [])
  t.equal((await cli(['migrate', 'status', '--check'], env)).stderr, '', 'nothing to say the next time')
})

t.test('a directory other users can write, or that belongs to another user, is refused', { skip }, async (t) => {
  const root = t.testdir()
  const directory = (name: string, mode: number): string => {
    const path = join(root, name)
    mkdirSync(path)
    chmodSync(path, mode)
    return path
  }
  for (const mode of [0o770, 0o777, 0o702]) {
    const dataDir = directory(mode.toString(8), mode)
    const result = await cli(['migrate', 'status'], { DATA_DIR: dataDir })
    t.equal(result.code, 1)
    t.equal(result.stderr, `user-service: data directory "${dataDir}" (DATA_DIR) has invalid permissions (0${mode.toString(8)}): other users can write to it; check its contents, then "chmod 700 ${dataDir}"\n`)
    t.same(readdirSync(dataDir), [], 'nothing was written to it')
    t.equal(lstatSync(dataDir).mode & 0o777, mode, 'nor its mode changed')
  }

  const served = directory('served', 0o777)
  const server = await failure(['src/server.ts'], { DATA_DIR: served })
  t.equal(server.code, 1)
  t.same(server.lines, [`user-service: failed to start: data directory "${served}" (DATA_DIR) has invalid permissions (0777): other users can write to it; check its contents, then "chmod 700 ${served}"`])

  if (!isRoot) return
  const owned = directory('owned', 0o700)
  chownSync(owned, NOBODY, NOBODY)
  const result = await cli(['migrate', 'status'], { DATA_DIR: owned })
  t.equal(result.code, 1)
  t.equal(result.stderr, `user-service: data directory "${owned}" (DATA_DIR) has wrong ownership: it belongs to uid ${NOBODY}, this process runs as uid 0; start the service as its owner, or "chown -R 0 ${owned}", or set DATA_DIR to another directory\n`)
})

t.test('a DATA_DIR that cannot be used: one line with the path, the cause and what to do', { skip }, async (t) => {
  const root = t.testdir({ 'a-file': '', corrupt: { PG_VERSION: '9\n' } })
  const underFile = join(root, 'a-file', 'data')
  const notDirectory = await cli(['migrate', 'status'], { DATA_DIR: underFile })
  t.equal(notDirectory.code, 1)
  t.equal(notDirectory.stderr, `user-service: DATA_DIR "${underFile}" cannot be used: a part of the path is a file, not a directory (ENOTDIR) creating ${underFile}; set DATA_DIR to a directory this user can write (or DATABASE_URL to use PostgreSQL)\n`)

  const corrupt = join(root, 'corrupt')
  chmodSync(corrupt, 0o700)
  chmodSync(join(corrupt, 'PG_VERSION'), 0o600)
  const failed = await cli(['migrate', 'status'], { DATA_DIR: corrupt })
  t.equal(failed.code, 1)
  t.equal(failed.stderr, `user-service: DATA_DIR "${corrupt}": the embedded database failed to start (PGlite failed to initialize properly); check that it holds a database made by this version and is writable, or set DATA_DIR to an empty directory\n`)
  t.same(readdirSync(corrupt), ['PG_VERSION'], 'the lock is released')
})

t.test('as another user: a directory it cannot create, or one that belongs to root', { skip: skip || (!isRoot && 'needs root to run a process as another user') }, async (t) => {
  const parent = t.testdir()
  const denied = join(parent, 'data')
  const create = await failure(['src/cli.ts', 'migrate', 'status'], { DATA_DIR: denied }, { uid: NOBODY })
  t.equal(create.code, 1, create.lines.join('\n'))
  t.same(create.lines, [`user-service: DATA_DIR "${denied}" cannot be used: permission denied (EACCES) creating ${denied}; give this user write access to it (or to its parent), or set DATA_DIR to a directory this user can write (or DATABASE_URL to use PostgreSQL)`])

  // Before: "failed to start: [object Object]" (PGlite's Emscripten errno object).
  const server = await failure(['src/server.ts'], { DATA_DIR: parent }, { uid: NOBODY })
  t.equal(server.code, 1)
  t.same(server.lines, [`user-service: failed to start: data directory "${parent}" (DATA_DIR) has wrong ownership: it belongs to uid 0, this process runs as uid ${NOBODY}; start the service as its owner, or "chown -R ${NOBODY} ${parent}", or set DATA_DIR to another directory`])
})

const privateMounts = spawnSync('unshare', ['-m', 'true']).status === 0
t.test('a DATA_DIR on a read-only file system', { skip: skip || (!privateMounts && 'needs "unshare -m" to mount read-only in a private namespace') }, async (t) => {
  const env = await migratedDatabaseEnv(t)
  const dataDir = env.DATA_DIR ?? ''
  const readOnly = ['unshare', '-m', 'sh', '-c', 'mount --bind -o ro "$0" "$0" && exec "$@"', dataDir]
  // Before: "failed to start: PGlite failed to initialize properly".
  const server = await failure(['src/server.ts'], env, { wrap: readOnly })
  t.equal(server.code, 1)
  t.same(server.lines, [`user-service: failed to start: DATA_DIR "${dataDir}" cannot be used: read-only file system (EROFS) creating its lock file in ${dataDir}; mount it read-write, or set DATA_DIR to a directory this user can write (or DATABASE_URL to use PostgreSQL)`])
  t.doesNotThrow(() => { writeFileSync(join(dataDir, 'writable'), '') }, 'the read-only mount was private to the child')
})
