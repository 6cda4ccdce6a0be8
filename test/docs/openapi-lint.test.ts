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
  const report = (severity: string): string[] => problems.filter((problem) => problem.severity === severity)
    .map((problem) => `${problem.ruleId} at ${problem.location[0]?.pointer ?? '?'}: ${problem.message}`)
  t.same(report('error'), [], 'no errors')
  t.same(report('warn'), [], 'no warnings')
})
