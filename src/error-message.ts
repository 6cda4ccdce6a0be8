/**
 * A thrown value as one line of text. Libraries throw non-Errors too (PGlite's Emscripten
 * layer throws plain objects), which String() would print as "[object Object]".
 */
export function errorMessage (value: unknown): string {
  if (value instanceof Error) return value.message
  if (typeof value !== 'object' || value === null) return String(value)
  const { message, code, name } = value as { message?: unknown, code?: unknown, name?: unknown }
  if (typeof message === 'string' && message !== '') return message
  if (typeof code === 'string') return code
  let json: string | undefined
  try {
    json = JSON.stringify(value)
  } catch {
    // A cycle or a BigInt: the name alone.
  }
  const label = typeof name === 'string' ? name : value.constructor?.name ?? 'object'
  return json === undefined || json === '{}' ? `${label} (no message)` : `${label} ${json}`
}
