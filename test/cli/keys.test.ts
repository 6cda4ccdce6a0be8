import t from 'tap'
import { migratedDatabaseEnv } from '../setup/databases.js'
import { cli } from './in-process.js'

const ENCRYPTION_KEY = 'test-only-encryption-key-of-32-characters!'

interface ListedKey { kid: string, algorithm: string, status: string, verifies: boolean, encrypted: boolean, retired_at: string | null, not_after: string | null }

async function listed (env: Record<string, string>): Promise<ListedKey[]> {
  const result = await cli(['keys', 'list', '--json'], env)
  if (result.code !== 0) throw new Error(result.stderr)
  return JSON.parse(result.stdout) as ListedKey[]
}

t.test('keys list, rotate, retire', async (t) => {
  const env = { ...await migratedDatabaseEnv(t), MIGRATE_ON_START: 'false', KEYS_ENCRYPTION_KEY: ENCRYPTION_KEY, JWT_EXPIRE_MINUTES: '10' }

  const empty = await cli(['keys', 'list'], env)
  t.equal(empty.code, 0)
  t.match(empty.stdout, /no keys yet/)

  const first = await cli(['keys', 'rotate'], env)
  t.equal(first.code, 0, first.stderr)
  const firstKid = /^new signing key (\S+) \(RS256\)$/m.exec(first.stdout)?.[1] ?? ''
  t.not(firstKid, '')
  t.equal(first.stderr, '', 'no warning with an encryption key')

  const second = await cli(['keys', 'rotate'], env)
  const secondKid = /^new signing key (\S+)/m.exec(second.stdout)?.[1] ?? ''
  t.match(second.stdout, new RegExp(`retired ${firstKid}: still verifies for 660 s`))

  const keys = await listed(env)
  t.same(keys.map((key) => [key.kid, key.status, key.verifies, key.encrypted]), [[secondKid, 'active', true, true], [firstKid, 'retired', true, true]])
  const [, retired] = keys as [ListedKey, ListedKey]
  t.equal(Date.parse(retired.not_after ?? '') - Date.parse(retired.retired_at ?? ''), 660_000, 'token lifetime + 60 s')

  const text = await cli(['keys', 'list'], env)
  t.match(text.stdout, new RegExp(`^${secondKid}  RS256  active`, 'm'))
  t.match(text.stdout, new RegExp(`^${firstKid}  RS256  retired \\(verifies until`, 'm'))

  const signer = await cli(['keys', 'retire', secondKid], env)
  t.equal(signer.code, 1)
  t.match(signer.stderr, /is the key tokens are signed with: run "user-service keys rotate" first/)

  const unknown = await cli(['keys', 'retire', 'no-such-kid'], env)
  t.equal(unknown.code, 1)
  t.match(unknown.stderr, /no key no-such-kid/)

  // 1 thumbprint in 64 starts with "-": it is a key id, not an option, in either position.
  const dashed = `-${'f'.repeat(42)}`
  for (const argv of [['keys', 'retire', dashed], ['keys', 'retire', '--now', dashed]]) {
    const result = await cli(argv, env)
    t.equal(result.code, 1, result.stderr)
    t.match(result.stderr, `no key ${dashed}`)
  }

  t.equal((await cli(['keys', 'retire', 'bad kid!'], env)).code, 2)
  t.equal((await cli(['keys', 'retire'], env)).code, 2)
  t.equal((await cli(['keys', 'spin'], env)).code, 2)
  t.equal((await cli(['keys'], env)).code, 2)

  const again = await cli(['keys', 'retire', firstKid], env)
  t.equal(again.code, 0)
  t.match(again.stdout, /verifies and stays in the JWKS until/)

  const now = await cli(['keys', 'retire', firstKid, '--now'], env)
  t.equal(now.code, 0)
  t.match(now.stdout, /no longer verifies/)
  t.same((await listed(env)).map((key) => [key.kid, key.verifies]), [[secondKid, true], [firstKid, false]])
})

t.test('rotate without KEYS_ENCRYPTION_KEY warns; HS256 has no keys; pending migrations exit 3', async (t) => {
  const env = { ...await migratedDatabaseEnv(t), MIGRATE_ON_START: 'false' }
  const plain = await cli(['keys', 'rotate'], env)
  t.equal(plain.code, 0)
  t.match(plain.stderr, /KEYS_ENCRYPTION_KEY is not set/)
  t.same((await listed(env)).map((key) => key.encrypted), [false])

  const hs = await cli(['keys', 'list'], { ...env, JWT_ALGORITHM: 'HS256', JWT_SECRET_KEY: 's'.repeat(32) })
  t.equal(hs.code, 2)
  t.match(hs.stderr, /HS256 signs with JWT_SECRET_KEY/)

  const es = await cli(['keys', 'rotate'], { ...env, JWT_ALGORITHM: 'ES256' })
  t.match(es.stdout, /\(ES256\)/)

  t.equal((await cli(['migrate', 'down'], env)).code, 0, 'this issue\'s migration rolls back')
  const pending = await cli(['keys', 'list'], env)
  t.equal(pending.code, 3)
  t.match(pending.stderr, /pending migration/)
  t.equal((await cli(['migrate', 'up'], env)).code, 0, 'and applies again')

  const help = await cli(['help'], {})
  t.match(help.stdout, /keys rotate/)
})
