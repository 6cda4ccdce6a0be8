import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { createConfig, lint } from '@redocly/openapi-core'
import t from 'tap'
import { buildApp } from '../helper.js'

// Redocly's own linter (the engine of `redocly lint`), offline: the built-in `recommended`
// ruleset needs no network and no redocly.yaml.
t.test('the served document passes Redocly\'s recommended rules', async (t) => {
  const { app } = await buildApp(t)
  const response = await app.inject({ method: 'GET', url: '/openapi.json' })
  t.equal(response.statusCode, 200)
  const path = join(t.testdir(), 'openapi.json')
  await writeFile(path, response.body)

  const problems = await lint({ ref: path, config: await createConfig({ extends: ['recommended'] }) })
  // A redirect is what the sign-in endpoints of an identity provider flow answer: a 3XX is their success.
  const redirects = (pointer: string | undefined): boolean => pointer !== undefined && /"3\d\d"/.test(JSON.stringify(Object.keys(
    (pointer.slice(2).split('/').reduce<unknown>((node, key) => (node as Record<string, unknown>)[key.replaceAll('~1', '/').replaceAll('~0', '~')], response.json()) ?? {}) as object)))
  const report = (severity: string): string[] => problems
    .filter((problem) => problem.severity === severity)
    .filter((problem) => !(problem.ruleId === 'operation-2xx-response' && redirects(problem.location[0]?.pointer)))
    .map((problem) => `${problem.ruleId} at ${problem.location[0]?.pointer ?? '?'}: ${problem.message}`)
  t.same(report('error'), [], 'no errors')
  t.same(report('warn'), [], 'no warnings')
})
