import { MAX_FIELD_ERRORS, type FieldError } from '../errors.js'

/** JSON nested deeper than this is refused: no request of this API nests more than two levels. */
export const MAX_NESTING_DEPTH = 64

/**
 * Object members plus array elements a JSON body may hold: no request of this API needs more
 * than a few dozen. Parsing is what a big body costs (JSON.parse of 80,000 keys: ~50 ms on a
 * quiet core, and every answer waits for it), so this is checked on the text, before parsing.
 */
export const MAX_JSON_VALUES = 1000

/** What makes a JSON text too big or too deep to parse, with where it was found. */
export type JsonShapeProblem = { kind: 'too_deep' | 'too_many_values', at: number } | null

/**
 * Scans JSON text without parsing it: the first point where it nests deeper than `maxDepth`
 * or holds more than `maxValues` object members and array elements, or null. Strings are
 * skipped whole, so their content counts for nothing. Malformed text is the parser's
 * business: whatever this finds, it says nothing about that.
 */
export function jsonShapeProblem (text: string, maxDepth: number, maxValues: number): JsonShapeProblem {
  const inArray: boolean[] = []
  let values = 0
  for (let index = 0; index < text.length; index += 1) {
    const code = text.charCodeAt(index)
    if (code === QUOTE) {
      index = closingQuote(text, index)
      if (index === -1) return null
    } else if (code === OPEN_BRACE || code === OPEN_BRACKET) {
      if (inArray.push(code === OPEN_BRACKET) > maxDepth) return { kind: 'too_deep', at: index }
      // An array's first element has no comma before it.
      if (code === OPEN_BRACKET && text.charCodeAt(nextNonSpace(text, index + 1)) !== CLOSE_BRACKET) values += 1
    } else if (code === CLOSE_BRACE || code === CLOSE_BRACKET) {
      inArray.pop()
    } else if (code === COLON || (code === COMMA && inArray.at(-1) === true)) {
      values += 1
    }
    if (values > maxValues) return { kind: 'too_many_values', at: index }
  }
  return null
}

const QUOTE = 0x22
const BACKSLASH = 0x5c
const OPEN_BRACE = 0x7b
const CLOSE_BRACE = 0x7d
const OPEN_BRACKET = 0x5b
const CLOSE_BRACKET = 0x5d
const COLON = 0x3a
const COMMA = 0x2c

function nextNonSpace (text: string, from: number): number {
  let index = from
  while (index < text.length && JSON_WHITESPACE.has(text.charCodeAt(index))) index += 1
  return index
}

const JSON_WHITESPACE = new Set([0x20, 0x09, 0x0a, 0x0d])

/** The index of the quote that closes the string opening at `start`, or -1. */
function closingQuote (text: string, start: number): number {
  let quote = text.indexOf('"', start + 1)
  while (quote !== -1) {
    let backslashes = 0
    while (text.charCodeAt(quote - 1 - backslashes) === BACKSLASH) backslashes += 1
    if (backslashes % 2 === 0) return quote
    quote = text.indexOf('"', quote + 1)
  }
  return -1
}

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
