import { readFileSync, readdirSync, statSync } from 'node:fs'
import { dirname, join, normalize, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import t from 'tap'

/**
 * The layout's rules, checked on the import graph: no cycle, and no edge against the layers
 * (route → service → repository → database; plugins adapt services to Fastify). See
 * docs/architecture.md.
 */

const ROOT = normalize(join(dirname(fileURLToPath(import.meta.url)), '..'))
const SPECIFIER = /(?:from|import)\s*\(?\s*['"](\.{1,2}\/[^'"]+)['"]/g

function sources (directory: string): string[] {
  return readdirSync(join(ROOT, directory)).flatMap((name) => {
    const path = join(directory, name)
    if (statSync(join(ROOT, path)).isDirectory()) return sources(path)
    return path.endsWith('.ts') && !path.endsWith('.d.ts') ? [path] : []
  })
}

const files = ['src', 'plugins', 'routes', 'migrations'].flatMap(sources)
const imports = new Map(files.map((file) => {
  const text = readFileSync(join(ROOT, file), 'utf8')
  const targets = [...text.matchAll(SPECIFIER)].map((match) => relative(ROOT, join(ROOT, dirname(file), (match[1] ?? '').replace(/\.js$/, '.ts'))))
  return [file, targets.filter((target) => files.includes(target))]
}))

/** The import cycles, as Tarjan's strongly connected components of more than one file (or a self-import). */
function cycles (): string[][] {
  const index = new Map<string, number>()
  const low = new Map<string, number>()
  const stack: string[] = []
  const found: string[][] = []
  const visit = (file: string): void => {
    index.set(file, index.size)
    low.set(file, index.get(file) ?? 0)
    stack.push(file)
    for (const target of imports.get(file) ?? []) {
      if (!index.has(target)) {
        visit(target)
        low.set(file, Math.min(low.get(file) ?? 0, low.get(target) ?? 0))
      } else if (stack.includes(target)) {
        low.set(file, Math.min(low.get(file) ?? 0, index.get(target) ?? 0))
      }
    }
    if (low.get(file) !== index.get(file)) return
    const component: string[] = []
    for (let member = stack.pop(); member !== undefined; member = stack.pop()) {
      component.push(member)
      if (member === file) break
    }
    if (component.length > 1 || (imports.get(file) ?? []).includes(file)) found.push(component.sort())
  }
  for (const file of files) if (!index.has(file)) visit(file)
  return found
}

/** [importer prefix, forbidden target prefix, why]; the composition roots (app, server, CLI) may import anything. */
const FORBIDDEN: Array<[RegExp, RegExp, string]> = [
  [/^src\/(?!app\.ts|server\.ts|cli\/)/, /^(plugins|routes)\//, 'domain code knows nothing of Fastify plugins or routes'],
  [/^routes\//, /^plugins\//, 'a route uses decorators, never a plugin\'s module'],
  [/^plugins\//, /^routes\//, 'plugins come before routes'],
  [/^src\/db\//, /^src\/(auth|users|admin|schemas|health|cli)\//, 'the database layer is below the services'],
  [/^src\/(auth|users)\//, /^src\/admin\//, 'administration uses accounts and credentials, not the other way'],
  [/^src\/users\//, /^src\/auth\//, 'accounts are below credentials: auth uses users, not the other way'],
  [/^src\/schemas\//, /^src\/(auth|users|cli|health|db)\//, 'schemas are leaves: they describe HTTP, not rows, and do not call'],
  [/^migrations\//, /^(?!migrations\/)/, 'a migration never imports app code (it must not change when the code does)']
]

t.test('the import graph has no cycle', async (t) => {
  t.ok(files.length > 50, `${files.length} files read`)
  t.same(cycles(), [])
})

t.test('no import goes against the layers', async (t) => {
  const violations = [...imports].flatMap(([file, targets]) => targets.flatMap((target) => FORBIDDEN
    .filter(([from, to]) => from.test(file) && to.test(target))
    .map(([, , why]) => `${file} -> ${target}: ${why}`)))
  t.same(violations, [])
})
