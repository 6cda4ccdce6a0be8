import { parseArgs } from 'node:util'
import { migrateDown, migrateToLatest, migrationStatus } from '../db/migrator.js'
import { configFor, EXIT_OK, EXIT_PENDING_MIGRATIONS, plural, usageError, withDatabase, type CliIo, type CliOptions } from './common.js'

/** `migrate up|down|status [--check]`. */
export async function migrateCommand (args: string[], io: CliIo, options: CliOptions): Promise<number> {
  const [subcommand, ...rest] = args
  if (subcommand !== 'up' && subcommand !== 'down' && subcommand !== 'status') {
    throw usageError(subcommand === undefined ? 'migrate needs a subcommand: up, down or status' : `unknown migrate subcommand "${subcommand}"`)
  }
  const { values, positionals } = parseArgs({
    args: rest,
    options: subcommand === 'status' ? { check: { type: 'boolean', default: false } } : {},
    allowPositionals: true,
    strict: true
  })
  if (positionals.length > 0) throw usageError(`unexpected argument "${positionals[0] ?? ''}"`)
  const config = configFor(io, options)

  return withDatabase(config, io, async ({ db }) => {
    if (subcommand === 'up') {
      const applied = await migrateToLatest(db)
      for (const name of applied) io.stdout.write(`applied  ${name}\n`)
      io.stdout.write(applied.length === 0 ? 'already up to date\n' : `applied ${plural(applied.length, 'migration')}\n`)
      return EXIT_OK
    }
    if (subcommand === 'down') {
      const reverted = await migrateDown(db)
      for (const name of reverted) io.stdout.write(`reverted  ${name}\n`)
      io.stdout.write(reverted.length === 0 ? 'nothing to roll back\n' : `rolled back ${plural(reverted.length, 'migration')}\n`)
      return EXIT_OK
    }
    const status = await migrationStatus(db)
    for (const migration of status) {
      io.stdout.write(migration.executedAt === null
        ? `pending  ${migration.name}\n`
        : `applied  ${migration.name}  ${migration.executedAt.toISOString()}\n`)
    }
    const pending = status.filter((migration) => migration.executedAt === null).length
    return values.check === true && pending > 0 ? EXIT_PENDING_MIGRATIONS : EXIT_OK
  })
}
