import { Readable } from 'node:stream'
import t from 'tap'
import { runCli } from '../../src/cli/run.js'
import { errorMessage } from '../../src/error-message.js'

/** What the server's and the CLI's "failed to start" / failure lines print for whatever was thrown. */
t.test('a thrown value of any kind becomes readable text, never "[object Object]"', async (t) => {
  const cycle: Record<string, unknown> = {}
  cycle.self = cycle
  const cases: Array<[unknown, string]> = [
    [new Error('boom'), 'boom'],
    [{ name: 'ErrnoError', errno: 2 }, 'ErrnoError {"name":"ErrnoError","errno":2}'],
    [{ message: 'from a library' }, 'from a library'],
    [{ code: 'EACCES' }, 'EACCES'],
    [{}, 'Object (no message)'],
    [cycle, 'Object (no message)'],
    [Object.create(null) as object, 'object (no message)'],
    ['a string', 'a string'],
    [42, '42'],
    [null, 'null'],
    [undefined, 'undefined']
  ]
  for (const [value, text] of cases) t.equal(errorMessage(value), text)
})

t.test('the CLI prints a non-Error failure readably (exit 1)', async (t) => {
  let stderr = ''
  // stdin fails with a plain object, as a broken pipe from a library might.
  const stdin = Readable.from((async function * () { yield* []; throw { reason: 'pipe gone' } })())
  const code = await runCli(['create-admin', '--email', 'a@example.com', '--username', 'alice'], {
    stdout: { write: () => true },
    stderr: { write: (text: string) => { stderr += text } },
    stdin,
    env: { LOG_LEVEL: 'silent', DATABASE_URL: 'memory://' }
  })
  t.equal(code, 1)
  t.equal(stderr, 'user-service: Object {"reason":"pipe gone"}\n', 'not "[object Object]"')
})
