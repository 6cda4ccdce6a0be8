import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pg from 'pg'

/** Where the service under test keeps its data for one bench run; `drop()` removes it. */
export interface BenchDatabase {
  kind: 'postgres' | 'pglite'
  /** Environment for the service: DATABASE_URL or DATA_DIR. */
  env: Record<string, string>
  /** A scratch directory for this run (logs, PGlite data). */
  workDir: string
  drop: () => Promise<void>
}

/**
 * BENCH_DATABASE_URL is an admin URL of a PostgreSQL server (any database there that the
 * user may CREATE DATABASE from, e.g. postgres://postgres@127.0.0.1:5432/postgres). The
 * run creates a fresh database on that server and drops it afterwards; without the
 * variable the run uses embedded PGlite in a fresh temporary directory.
 */
export async function createBenchDatabase (adminUrl: string | undefined): Promise<BenchDatabase> {
  const workDir = await mkdtemp(join(tmpdir(), 'user-service-bench-'))
  const removeWorkDir = async (): Promise<void> => { await rm(workDir, { recursive: true, force: true }) }
  if (adminUrl === undefined || adminUrl === '') {
    return { kind: 'pglite', env: { DATA_DIR: join(workDir, 'data') }, workDir, drop: removeWorkDir }
  }
  const name = `user_service_bench_${process.pid}_${Date.now()}`
  await withClient(adminUrl, async (client) => { await client.query(`create database ${name}`) })
  const url = new URL(adminUrl)
  url.pathname = `/${name}`
  return {
    kind: 'postgres',
    env: { DATABASE_URL: url.toString() },
    workDir,
    drop: async () => {
      await withClient(adminUrl, async (client) => { await client.query(`drop database if exists ${name} with (force)`) })
      await removeWorkDir()
    }
  }
}

async function withClient (url: string, work: (client: pg.Client) => Promise<void>): Promise<void> {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    await work(client)
  } finally {
    await client.end()
  }
}
