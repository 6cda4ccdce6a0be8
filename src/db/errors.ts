/** PostgreSQL's unique_violation; both pg and PGlite report it with the constraint's name. */
const UNIQUE_VIOLATION = '23505'

export function uniqueViolationConstraint (error: unknown): string | null {
  if (typeof error !== 'object' || error === null) return null
  const { code, constraint } = error as { code?: unknown, constraint?: unknown }
  if (code !== UNIQUE_VIOLATION) return null
  return typeof constraint === 'string' ? constraint : ''
}

/** PostgreSQL's undefined_table: the schema is behind the code (migrations not applied). */
export function isMissingTable (error: unknown): boolean {
  return typeof error === 'object' && error !== null && (error as { code?: unknown }).code === '42P01'
}
