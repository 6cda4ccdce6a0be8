/** JSON Pointers of every string (key or value) under `value` that contains a NUL byte. */
export function findNulBytes (value: unknown, path: string): string[] {
  if (typeof value === 'string') return value.includes('\0') ? [path] : []
  if (typeof value !== 'object' || value === null) return []
  const found: string[] = []
  for (const [key, child] of Object.entries(value)) {
    const childPath = `${path}/${key.replaceAll('~', '~0').replaceAll('/', '~1').replaceAll('\0', '\\u0000')}`
    if (key.includes('\0')) found.push(childPath)
    else found.push(...findNulBytes(child, childPath))
  }
  return found
}
