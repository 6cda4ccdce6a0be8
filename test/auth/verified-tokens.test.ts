import t from 'tap'
import type { AccessTokenClaims } from '../../src/auth/tokens.js'
import { keyIdOf, VerifiedTokens } from '../../src/auth/verified-tokens.js'
import { bearer, buildApp, registerAccount } from '../helper.js'

const NOW = 1_800_000_000_000

function claims (exp: number, sid = 'session'): AccessTokenClaims {
  return { sub: 'user', sid, exp, iat: exp - 900 } as unknown as AccessTokenClaims
}

t.test('a kept token answers until its exp, and only while its key verifies', async (t) => {
  const liveKeys = new Set(['k1', 'k2'])
  const kept = new VerifiedTokens(10, (kid) => kid !== undefined && liveKeys.has(kid))
  kept.remember('token-a', 'k1', claims(NOW / 1000 + 60))
  kept.remember('token-b', 'k2', claims(NOW / 1000 + 60))
  t.equal(kept.claimsOf('token-a', NOW)?.exp, NOW / 1000 + 60)
  t.equal(kept.claimsOf('token-a', NOW + 60_000), undefined, 'at exp it is gone')
  t.equal(kept.claimsOf('token-a', NOW), undefined, 'and stays gone: verified again next time')
  liveKeys.delete('k2')
  t.equal(kept.claimsOf('token-b', NOW), undefined, 'its key was retired')
  t.equal(kept.size, 0)
  t.equal(kept.claimsOf('never-seen', NOW), undefined)
})

t.test('the least recently used token goes first past the capacity', async (t) => {
  const kept = new VerifiedTokens(2, () => true)
  kept.remember('a', 'k', claims(NOW / 1000 + 60))
  kept.remember('b', 'k', claims(NOW / 1000 + 60))
  kept.claimsOf('a', NOW)
  kept.remember('c', 'k', claims(NOW / 1000 + 60))
  t.equal(kept.size, 2)
  t.not(kept.claimsOf('a', NOW), undefined)
  t.equal(kept.claimsOf('b', NOW), undefined)
})

t.test("a token that only shares a kept token's signature is not taken for it", async (t) => {
  const kept = new VerifiedTokens(10, () => true)
  kept.remember('header.payload.signature', 'k', claims(NOW / 1000 + 60, 'real'))
  t.equal(kept.claimsOf('header.payload.signature', NOW)?.sid, 'real')
  t.equal(kept.claimsOf('header.forged-payload.signature', NOW), undefined, 'another payload with the same signature: verified as a new token')
  t.equal(kept.claimsOf('header.payload.signature', NOW)?.sid, 'real', 'the kept token still answers')
  kept.remember('header.other.signature2', 'k', claims(NOW / 1000 + 60, 'other'))
  t.equal(kept.size, 2)
})

t.test('keyIdOf reads the header of a compact JWS', async (t) => {
  const part = (value: object): string => Buffer.from(JSON.stringify(value)).toString('base64url')
  t.equal(keyIdOf(`${part({ alg: 'RS256', kid: 'abc' })}.${part({})}.sig`), 'abc')
  t.equal(keyIdOf(`${part({ alg: 'HS256' })}.${part({})}.sig`), undefined)
})

t.test('a token checked before still stops at once when its session ends or its account is disabled', async (t) => {
  const { app } = await buildApp(t)
  for (const end of ['logout', 'disable'] as const) {
    const account = await registerAccount(app)
    const me = async () => app.inject({ method: 'GET', url: '/api/v1/users/me', headers: bearer(account.accessToken) })
    t.equal((await me()).statusCode, 200)
    t.equal((await me()).statusCode, 200, 'the second request is answered from the kept verification')
    if (end === 'logout') {
      t.equal((await app.inject({ method: 'POST', url: '/api/v1/auth/logout', headers: bearer(account.accessToken) })).statusCode, 204)
    } else {
      await app.db.updateTable('users').set({ is_active: false }).where('id', '=', account.id).execute()
      await app.sessionView.catchUp()
    }
    t.equal((await me()).statusCode, 401, end)
  }
})
