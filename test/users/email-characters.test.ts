import { Ajv } from 'ajv'
import { sql } from 'kysely'
import t from 'tap'
import { Email } from '../../src/schemas/common.js'
import { ajvOptions } from '../../src/server-options.js'
import { normalizeEmail } from '../../src/users/users.service.js'
import { buildApp, isProblem, LogCapture } from '../helper.js'

/**
 * Emails with invisible or look-alike characters are refused, and every address the API
 * accepts is one the users table's CHECK accepts: a mismatch is a 500 whose log held the row.
 */

const logs = new LogCapture()
const { app } = await buildApp(t, { logs })
let counter = 0

async function register (email: string) {
  counter += 1
  return app.inject({ method: 'POST', url: '/api/v1/auth/register', payload: { email, username: `chars_${counter}`, password: 'correct horse battery' } })
}

t.test('control, zero-width, bidi and other invisible characters in an email are 400', async (t) => {
  const refused: Array<[string, string]> = [
    ['NEL (U+0085), which PostgreSQL takes for a space', 'ali\u0085ce@example.com'],
    ['a control character', 'ali\u0007ce@example.com'],
    ['DEL', 'alice\u007f@example.com'],
    ['a zero-width space', 'ali\u200bce@example.com'],
    ['a zero-width joiner', 'alice@exa\u200dmple.com'],
    ['a right-to-left override', 'alice@\u202eelpmaxe.com'],
    ['a left-to-right isolate', 'alice@\u2066example.com'],
    ['a byte order mark inside', 'ali\ufeffce@example.com'],
    ['a no-break space inside', 'ali\u00a0ce@example.com'],
    ['a line separator', 'alice@example.com\u2028x'],
    ['a private-use character', 'ali\ue000ce@example.com'],
    ['a lone surrogate', 'ali\ud800ce@example.com']
  ]
  for (const [name, email] of refused) {
    const response = await register(email)
    t.equal(response.statusCode, 400, name)
    t.ok(isProblem(response))
    t.equal(response.json().errors?.[0]?.path, '/email', name)
  }
  const rows = await app.db.selectFrom('users').select('id').execute()
  t.equal(rows.length, 0, 'nothing was stored')
  t.notMatch(logs.text, /"level":50/, 'no error was logged')

  const accepted = await register('  Zoë.Łukasz@Bücher.example  ')
  t.equal(accepted.statusCode, 201, 'letters of any script are fine')
  t.equal(accepted.json().user.email, 'zoë.łukasz@bücher.example')
})

t.test('every email the API accepts passes the table CHECK', async (t) => {
  const validate = new Ajv(ajvOptions).compile(Email)
  const accepted: string[] = []
  const refusedCategories = new Set<string>()
  // Every code point of the Basic Multilingual Plane and a sample of the others, in the
  // local part and in the domain, upper case included (normalised as the service does).
  const codePoints = [...Array.from({ length: 0x10000 }, (_, index) => index), 0x1f600, 0x1d400, 0x20000, 0xe0041, 0xf0000, 0x10fffd]
  for (const codePoint of codePoints) {
    const character = String.fromCodePoint(codePoint)
    for (const email of [`a${character}b@example.com`, `ab@ex${character}ample.com`]) {
      if (validate(email)) accepted.push(normalizeEmail(email))
      else refusedCategories.add(character)
    }
  }
  t.ok(accepted.length > 100_000, `${accepted.length} addresses accepted by the API`)
  const failing = await sql<{ email: string }>`
    select email from unnest(${accepted}::text[]) as candidate(email)
    where not (email = lower(btrim(email)) and char_length(email) <= 320 and email ~ '^[^@[:space:]]+@[^@[:space:]]+$')`
    .execute(app.db)
  t.same(failing.rows.map(({ email }) => [...email].map((c) => c.codePointAt(0)?.toString(16)).join(' ')), [],
    'the CHECK accepts every address the API accepts')
})
