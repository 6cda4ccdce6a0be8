import { Migrator, type Kysely, type MigrationResultSet } from 'kysely'
import { migrations } from '../../migrations/index.js'

export interface MigrationStatus {
  name: string
  executedAt: Date | null
}

export function createMigrator (db: Kysely<any>): Migrator {
  return new Migrator({
    db,
    provider: { getMigrations: async () => migrations }
  })
}

export async function migrationStatus (db: Kysely<any>): Promise<MigrationStatus[]> {
  const list = await createMigrator(db).getMigrations()
  return list.map((migration) => ({ name: migration.name, executedAt: migration.executedAt ?? null }))
}

export async function pendingMigrations (db: Kysely<any>): Promise<string[]> {
  return (await migrationStatus(db)).filter((migration) => migration.executedAt === null).map((migration) => migration.name)
}

/** A migration that failed to apply or revert, named in the message. */
export class MigrationError extends Error {
  override name = 'MigrationError'
}

/** Runs the result of a Migrator call and throws the migration error, if any, with its name. */
export function unwrapMigrationResult ({ error, results }: MigrationResultSet): string[] {
  if (error !== undefined) {
    const failed = results?.find((result) => result.status === 'Error')
    const reason = error instanceof Error ? error.message : String(error)
    throw new MigrationError(failed === undefined ? `migration failed: ${reason}` : `migration ${failed.migrationName} failed: ${reason}`, { cause: error })
  }
  return (results ?? []).filter((result) => result.status === 'Success').map((result) => result.migrationName)
}

export async function migrateToLatest (db: Kysely<any>): Promise<string[]> {
  return unwrapMigrationResult(await createMigrator(db).migrateToLatest())
}

export async function migrateDown (db: Kysely<any>): Promise<string[]> {
  return unwrapMigrationResult(await createMigrator(db).migrateDown())
}
