import { createHash, randomBytes } from 'node:crypto'
import { readFileSync, readdirSync } from 'node:fs'
import { access, cp, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { PGlite } from '@electric-sql/pglite'
import pg from 'pg'
import { openPostgres, wrapPGlite, type DatabaseHandle } from '../../src/db/connect.js'
import { PrivateNodeFS } from '../../src/db/private-nodefs.js'
import { migrateToLatest } from '../../src/db/migrator.js'

/**
 * Test databases. Each test file gets its own: on PGlite a copy of a migrated data directory
 * (made once per run by test/setup/before.ts), on PostgreSQL (TEST_DB=postgres) a database
 * created from a migrated template database.
 */
const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..')
/** Templates are named after the migrations' contents, so a changed migration gets a new template. */
const migrationsHash = (() => {
  const directory = join(root, 'migrations')
  const hash = createHash('sha256')
  for (const file of readdirSync(directory).sort()) hash.update(file).update(readFileSync(join(directory, file)))
  return hash.digest('hex').slice(0, 12)
})()
export const pgliteTemplatePath = join(root, '.tap', 'user-service', `pglite-template-${migrationsHash}.tar.gz`)
/**
 * A never-migrated PGlite database, dumped once per PGlite version: loading a dump takes a
 * fraction of the time initdb takes (seconds, many of them on a busy machine).
 */
const pgliteVersion = (JSON.parse(readFileSync(join(root, 'node_modules', '@electric-sql', 'pglite', 'package.json'), 'utf8')) as { version: string }).version
export const pgliteEmptyTemplatePath = join(root, '.tap', 'user-service', `pglite-empty-${pgliteVersion}.tar.gz`)
export const postgresTemplateName = `user_service_template_${migrationsHash}`

export type TestDatabaseKind = 'pglite' | 'postgres'

export function testDatabaseKind (): TestDatabaseKind {
  return process.env.TEST_DB === 'postgres' ? 'postgres' : 'pglite'
}

/**
 * tap's `skip` for a test that never touches the test database (real processes on their own
 * embedded database, the bench, a browser): it runs once, on the PGlite run, not again on PostgreSQL.
 */
export const onlyOnPGliteRun: string | false = testDatabaseKind() === 'postgres' ? 'independent of TEST_DB: runs on the PGlite run only' : false

export function adminDatabaseUrl (): string {
  const url = process.env.TEST_DATABASE_URL
  if (url === undefined || url === '') throw new Error('TEST_DB=postgres needs TEST_DATABASE_URL (e.g. postgres://postgres@127.0.0.1:5432/test)')
  return url
}

export function databaseUrl (name: string): string {
  const url = new URL(adminDatabaseUrl())
  url.pathname = `/${name}`
  return url.toString()
}

export async function withAdminClient<T> (work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: adminDatabaseUrl() })
  await client.connect()
  try {
    return await work(client)
  } finally {
    await client.end()
  }
}

export async function buildPGliteTemplate (): Promise<void> {
  if (!await exists(pgliteEmptyTemplatePath)) {
    const pglite = new PGlite()
    await pglite.waitReady
    await writeAtomically(pgliteEmptyTemplatePath, await pglite.dumpDataDir('gzip'))
    await pglite.close()
  }
  if (await exists(pgliteTemplatePath)) return
  const pglite = new PGlite({ loadDataDir: new Blob([await readFile(pgliteEmptyTemplatePath)]) })
  const handle = wrapPGlite(pglite)
  await migrateToLatest(handle.db)
  const dump = await pglite.dumpDataDir('gzip')
  await handle.close()
  await writeAtomically(pgliteTemplatePath, dump)
}

async function exists (path: string): Promise<boolean> {
  return access(path).then(() => true, () => false)
}

async function writeAtomically (path: string, contents: Blob): Promise<void> {
  await mkdir(dirname(path), { recursive: true })
  const temporary = `${path}.${process.pid}`
  await writeFile(temporary, Buffer.from(await contents.arrayBuffer()))
  await rename(temporary, path)
}

/** Creates the migrated template once (per migration contents); concurrent runs wait for each other. */
export async function buildPostgresTemplate (): Promise<void> {
  await withAdminClient(async (client) => {
    await client.query("select pg_advisory_lock(hashtext('user-service:test-template'))")
    const { rowCount } = await client.query('select 1 from pg_database where datname = $1', [postgresTemplateName])
    if (rowCount === 0) {
      const building = `${postgresTemplateName}_building`
      await client.query(`drop database if exists ${building} with (force)`)
      await client.query(`create database ${building}`)
      const handle = openPostgres(databaseUrl(building), 1)
      try {
        await migrateToLatest(handle.db)
      } finally {
        await handle.close()
      }
      await client.query(`alter database ${building} rename to ${postgresTemplateName}`)
    }
    await client.query("select pg_advisory_unlock(hashtext('user-service:test-template'))")
  })
}

/** Drops test databases left behind by test processes that are gone. */
export async function dropOrphanedTestDatabases (): Promise<void> {
  await withAdminClient(async (client) => {
    const { rows } = await client.query<{ datname: string }>("select datname from pg_database where datname like 'us\\_test\\_%'")
    for (const { datname } of rows) {
      const pid = Number(datname.split('_')[2])
      if (!isAlive(pid)) await client.query(`drop database if exists ${datname} with (force)`)
    }
    // Another checkout (other migrations) may be using its template right now: only templates
    // made more than a day ago go (a database's PG_VERSION file is written when it is created).
    const stale = await client.query<{ datname: string }>(
      `select datname from pg_database
        where datname like 'user\\_service\\_template\\_%' and datname <> $1
          and (pg_stat_file('base/' || oid || '/PG_VERSION')).modification < now() - interval '1 day'`, [postgresTemplateName])
    for (const { datname } of stale.rows) await client.query(`drop database if exists ${datname} with (force)`)
  })
}

function isAlive (pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

async function loadPGliteTemplate (path: string): Promise<Blob> {
  try {
    return new Blob([await readFile(path)])
  } catch {
    await buildPGliteTemplate()
    return new Blob([await readFile(path)])
  }
}

export interface TestDatabase {
  handle: DatabaseHandle
  kind: TestDatabaseKind
  /** For PostgreSQL, the connection URL (for a second app instance or a CLI process). */
  url: string | null
  drop: () => Promise<void>
}

/**
 * A fresh database of the kind this run tests: migrated and empty, or with no schema at all.
 * It is up when this resolves: an app built on it never counts PGlite's start against its
 * breaker's call timeout.
 */
export async function createTestDatabase (options: { migrated?: boolean } = {}): Promise<TestDatabase> {
  const migrated = options.migrated ?? true
  if (testDatabaseKind() === 'pglite') {
    const pglite = new PGlite({ loadDataDir: await loadPGliteTemplate(migrated ? pgliteTemplatePath : pgliteEmptyTemplatePath) })
    await pglite.waitReady
    const handle = wrapPGlite(pglite)
    return { handle, kind: 'pglite', url: null, drop: handle.close }
  }
  const name = `us_test_${process.pid}_${randomBytes(4).toString('hex')}`
  await withAdminClient((client) => client.query(`create database ${name}${migrated ? ` template ${postgresTemplateName}` : ''}`))
  const url = databaseUrl(name)
  const handle = openPostgres(url, 10)
  return {
    handle,
    kind: 'postgres',
    url,
    drop: async () => {
      await handle.close()
      await withAdminClient((client) => client.query(`drop database if exists ${name} with (force)`))
    }
  }
}

/**
 * A migrated database that a separate process (the CLI, a child server) opens by
 * configuration: a PGlite directory copied from the template, or a PostgreSQL URL.
 */
export async function migratedDatabaseEnv (t: { teardown: (fn: () => unknown) => void, testdir: () => string }): Promise<Record<string, string>> {
  if (testDatabaseKind() === 'pglite') {
    const dataDir = join(t.testdir(), 'data')
    await cp(await pgliteDirectoryTemplate('migrated'), dataDir, { recursive: true })
    return { DATA_DIR: dataDir }
  }
  const database = await createTestDatabase()
  t.teardown(database.drop)
  return { DATABASE_URL: database.url ?? '' }
}

/**
 * A PGlite data directory to copy (a copy is a file copy; making one boots PGlite): made once
 * from the dumped template, beside it, as the service makes directories (0700, files 0600).
 */
export async function pgliteDirectoryTemplate (kind: 'empty' | 'migrated'): Promise<string> {
  const dump = kind === 'empty' ? pgliteEmptyTemplatePath : pgliteTemplatePath
  const path = dump.replace(/\.tar\.gz$/, '-private-directory')
  if (await exists(path)) return path
  const building = `${path}.${process.pid}`
  await createPGliteDirectory(building, await loadPGliteTemplate(dump))
  await rename(building, path).catch(async (error: unknown) => {
    await rm(building, { recursive: true, force: true })
    // Another test file made it first.
    if (!await exists(path)) throw error
  })
  return path
}

/** A PGlite data directory as the service makes one (0700, files 0600), from a dump or empty. */
export async function createPGliteDirectory (dataDir: string, loadDataDir?: Blob): Promise<void> {
  await mkdir(dataDir, { recursive: true, mode: 0o700 })
  const pglite = new PGlite({ fs: new PrivateNodeFS(dataDir), ...(loadDataDir === undefined ? {} : { loadDataDir }) })
  await pglite.waitReady
  await pglite.close()
}
