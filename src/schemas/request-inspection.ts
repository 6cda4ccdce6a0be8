import { MAX_FIELD_ERRORS, type FieldError } from '../errors.js'

/** JSON nested deeper than this is refused: no request of this API nests more than two levels. */
export const MAX_NESTING_DEPTH = 64

/** RFC 6901 JSON Pointer escaping of one key; a NUL shows as \u0000 so the pointer can be logged. */
export function pointerSegment (key: string): string {
  return key.replaceAll('~', '~0').replaceAll('/', '~1').replaceAll('\0', '\\u0000')
}

interface Pending { value: object, path: string, depth: number }

/**
 * What no request part may hold: NUL bytes in any string or key (PostgreSQL text cannot store
 * them, and no legitimate field needs one) and nesting deeper than MAX_NESTING_DEPTH. Walks
 * with an explicit stack, so no input can overflow the call stack, and stops after
 * MAX_FIELD_ERRORS findings, so a huge body costs one pass at most.
 */
export function inspectRequestPart (value: unknown, path: string): FieldError[] {
  const found: FieldError[] = []
  const nul = (at: string): boolean => found.push({ path: at, message: 'must not contain NUL bytes' }) >= MAX_FIELD_ERRORS
  if (typeof value === 'string') return value.includes('\0') ? [{ path, message: 'must not contain NUL bytes' }] : []
  if (typeof value !== 'object' || value === null) return found
  const stack: Pending[] = [{ value, path, depth: 1 }]
  for (let next = stack.pop(); next !== undefined; next = stack.pop()) {
    if (next.depth > MAX_NESTING_DEPTH) {
      return [{ path: next.path, message: `is nested deeper than ${MAX_NESTING_DEPTH} levels` }]
    }
    const container = next.value as Record<string, unknown>
    // Object.keys, not Object.entries: no pair array per key (80,000 keys: ~20 ms against ~200 ms).
    for (const key of Object.keys(container)) {
      const child = container[key]
      if (key.includes('\0') || (typeof child === 'string' && child.includes('\0'))) {
        if (nul(`${next.path}/${pointerSegment(key)}`)) return found
      } else if (typeof child === 'object' && child !== null) {
        stack.push({ value: child, path: `${next.path}/${pointerSegment(key)}`, depth: next.depth + 1 })
      }
    }
  }
  return found
}

/**
 * The fields of `body` that an object schema with `additionalProperties: false` does not
 * declare, capped at MAX_FIELD_ERRORS. Checked before Ajv, which (with allErrors) would
 * otherwise build one error per unknown key: 80,000 of them for a 1 MiB body.
 */
export function unknownFields (body: unknown, schema: unknown): { errors: FieldError[], total: number } {
  const { properties, additionalProperties } = (schema ?? {}) as { properties?: Record<string, unknown>, additionalProperties?: unknown }
  if (additionalProperties !== false || properties === undefined || typeof body !== 'object' || body === null || Array.isArray(body)) {
    return { errors: [], total: 0 }
  }
  const errors: FieldError[] = []
  let total = 0
  for (const key of Object.keys(body)) {
    if (Object.hasOwn(properties, key)) continue
    total += 1
    if (errors.length < MAX_FIELD_ERRORS) errors.push({ path: `/${pointerSegment(key)}`, message: 'is not a known field' })
  }
  return { errors, total }
}
