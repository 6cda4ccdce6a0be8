import { buildPGliteTemplate, buildPostgresTemplate, dropOrphanedTestDatabases, testDatabaseKind } from './databases.js'

// Runs once before the test files (tap's `before`): makes sure the migrated template exists.
if (testDatabaseKind() === 'postgres') {
  await dropOrphanedTestDatabases()
  await buildPostgresTemplate()
} else {
  await buildPGliteTemplate()
}
