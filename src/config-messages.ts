import type { ErrorObject } from 'ajv'

/**
 * What a refused configuration says: one clause per bad variable, naming it, with the allowed
 * values or the expected shape and what was given, and never a value that may be a secret.
 */

/** Variables whose value may be a secret (a password in a URL, a key): never echoed back. */
const SECRET_VARIABLES = new Set(['DATABASE_URL', 'JWT_SECRET_KEY', 'KEYS_ENCRYPTION_KEY', 'REDIS_URL', 'OIDC_PROVIDERS'])

/** What a pattern-checked variable must look like, in words. */
const PATTERN_HINTS: Record<string, string> = {
  DATABASE_URL: 'must be a PostgreSQL URL (postgres://user:password@host:5432/database) or memory://',
  PUBLIC_URL: 'must be the http(s) URL clients use to reach the service, such as https://auth.example.com',
  REDIS_URL: 'must be a Redis URL such as redis://:password@redis.internal:6379/0 (rediss:// for TLS)'
}

/** Why a bound is what it is, after "must be at least N". */
const MINIMUM_HINTS: Record<string, string> = {
  PASSWORD_MIN_LENGTH: ', the shortest password NIST SP 800-63B allows'
}

/** One clause per bad variable, with the allowed values and what was given (unless secret). */
export function describeEnvError (error: unknown, source: NodeJS.ProcessEnv): string {
  const issues = (error as { errors?: ErrorObject[] }).errors
  if (!Array.isArray(issues)) return error instanceof Error ? error.message : String(error)
  const clauses = new Map<string, string>()
  for (const issue of issues) {
    const name = issue.keyword === 'required' ? String(issue.params.missingProperty) : issue.instancePath.replace(/^\//, '')
    if (clauses.has(name)) continue
    const given = SECRET_VARIABLES.has(name) || source[name] === undefined ? '' : ` (got "${source[name]}")`
    clauses.set(name, `${name} ${describeIssue(name, issue)}${given}`)
  }
  return [...clauses.values()].join('; ')
}

function describeIssue (name: string, issue: ErrorObject): string {
  const params = issue.params as Record<string, unknown>
  switch (issue.keyword) {
    case 'enum': return `must be one of ${(params.allowedValues as string[]).join(', ')}`
    case 'type': return params.type === 'boolean' ? 'must be true or false' : `must be ${params.type === 'integer' ? 'an integer' : `a ${String(params.type)}`}`
    case 'minimum': return `must be at least ${String(params.limit)}${MINIMUM_HINTS[name] ?? ''}`
    case 'minLength': return `must be at least ${String(params.limit)} characters`
    case 'maxLength': return `must be at most ${String(params.limit)} characters`
    case 'maximum': return `must be at most ${String(params.limit)}`
    case 'pattern': return PATTERN_HINTS[name] ?? 'has an invalid format'
    case 'required': return 'is required'
    default: return issue.message ?? 'is invalid'
  }
}
