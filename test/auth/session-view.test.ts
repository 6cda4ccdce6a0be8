import t from 'tap'
import { SessionView, type LookupSource } from '../../src/auth/sessions/session-view.js'
import type { UserWithSession } from '../../src/auth/sessions/sessions.repository.js'

/**
 * The session view on its own, with a database read the test controls: the interleavings a
 * busy server produces by chance (a notification while a read is in flight, a lost listener
 * mid-read) are forced here, step by step.
 */
const ALICE = '00000000-0000-4000-8000-000000000001'
const PHONE = '00000000-0000-4000-8000-0000000000a1'
const LAPTOP = '00000000-0000-4000-8000-0000000000a2'
const NOW = Date.UTC(2026, 11, 3, 12)

function row (changes: Partial<UserWithSession> = {}): UserWithSession {
  return {
    id: ALICE,
    email: 'alice@example.com',
    username: 'alice',
    hashed_password: null,
    full_name: 'Alice',
    is_active: true,
    roles: ['user'],
    password_changed_at: null,
    created_at: new Date(NOW - 86400_000),
    updated_at: new Date(NOW - 86400_000),
    session_live: true,
    session_expires_at: new Date(NOW + 3600_000),
    ...changes
  }
}

/** A database whose reads answer when the test says so, counting them. */
class ScriptedDatabase {
  reads = 0
  current: UserWithSession | undefined = row()
  readonly #held: Array<(value: UserWithSession | undefined) => void> = []
  holding = false

  read = async (): Promise<UserWithSession | undefined> => {
    this.reads += 1
    const answer = this.current
    if (!this.holding) return answer
    // What the database said when the read ran, handed over later.
    return new Promise((resolve) => { this.#held.push(() => { resolve(answer) }) })
  }

  releaseAll (): void {
    for (const release of this.#held.splice(0)) release(undefined)
  }

  get waiting (): number {
    return this.#held.length
  }
}

function setUp (maxEntries = 100): { view: SessionView, database: ScriptedDatabase, sources: LookupSource[] } {
  const database = new ScriptedDatabase()
  const sources: LookupSource[] = []
  const view = new SessionView(database.read, { maxEntries, now: () => NOW, observe: (source) => { sources.push(source) } })
  view.connect()
  return { view, database, sources }
}

t.test('a connected view reads once, then answers from memory', async (t) => {
  const { view, database, sources } = setUp()
  t.match(await view.lookup(ALICE, PHONE), { user: { id: ALICE, email: 'alice@example.com' } })
  t.match(await view.lookup(ALICE, PHONE), { user: { id: ALICE } })
  t.equal(database.reads, 1)
  t.same(sources, ['miss', 'hit'])
  t.notOk('session_live' in ((await view.lookup(ALICE, PHONE)) as { user: object }).user, 'the user carries no session fields')
  t.same(view.size, { users: 1, sessions: 1 })
})

t.test('a revocation, a disabled or deleted account and a changed profile are read again', async (t) => {
  const { view, database } = setUp()
  await view.lookup(ALICE, PHONE)
  await view.lookup(ALICE, LAPTOP)
  t.equal(database.reads, 2)

  database.current = row({ session_live: false })
  view.revoked(ALICE, PHONE)
  t.same(await view.lookup(ALICE, PHONE), { refusal: 'the session of this token has ended' }, 'the ended session')
  database.current = row()
  t.match(await view.lookup(ALICE, LAPTOP), { user: { id: ALICE } }, 'the other session is still kept')
  t.equal(database.reads, 3)

  database.current = row({ full_name: 'Alice B.' })
  view.userChanged(ALICE)
  t.match(await view.lookup(ALICE, LAPTOP), { user: { full_name: 'Alice B.' } }, 'the new profile')

  database.current = row({ is_active: false, session_live: true })
  view.revoked(ALICE, null)
  t.same(await view.lookup(ALICE, LAPTOP), { refusal: 'the account of this token is disabled' })
  t.same(await view.lookup(ALICE, LAPTOP), { refusal: 'the account of this token is disabled' }, 'a kept disabled account is refused from memory too')

  database.current = undefined
  view.revoked(ALICE, null)
  t.same(await view.lookup(ALICE, LAPTOP), { refusal: 'the account of this token no longer exists' })
  t.same(await view.lookup(ALICE, LAPTOP), { refusal: 'the account of this token no longer exists' })
  t.equal(database.reads, 7, 'a gone account is never answered from memory')
})

t.test('a notification that overtakes a read in flight wins: the read is answered but not kept', async (t) => {
  for (const notify of [
    (view: SessionView) => { view.revoked(ALICE, PHONE) },
    (view: SessionView) => { view.revoked(ALICE, LAPTOP) },
    (view: SessionView) => { view.revoked(ALICE, null) },
    (view: SessionView) => { view.userChanged(ALICE) }
  ]) {
    const { view, database } = setUp()
    database.holding = true
    // The read runs while the session is live, the logout commits, its notification arrives, then the read returns.
    const inFlight = view.lookup(ALICE, PHONE)
    t.equal(database.waiting, 1)
    database.current = row({ session_live: false })
    notify(view)
    database.releaseAll()
    t.match(await inFlight, { user: { id: ALICE } }, 'the request that raced the change is answered as the database said')
    database.holding = false
    t.same(await view.lookup(ALICE, PHONE), { refusal: 'the session of this token has ended' }, 'the next one reads again')
    t.equal(database.reads, 2)
  }
})

t.test('a notification about another user does not stop a read from being kept', async (t) => {
  const { view, database } = setUp()
  database.holding = true
  const inFlight = view.lookup(ALICE, PHONE)
  view.revoked('00000000-0000-4000-8000-000000000002', null)
  database.releaseAll()
  await inFlight
  database.holding = false
  await view.lookup(ALICE, PHONE)
  t.equal(database.reads, 1, 'kept')
})

t.test('two reads of one user, a notification between them: only the one begun after it is kept', async (t) => {
  const { view, database } = setUp()
  database.holding = true
  const first = view.lookup(ALICE, PHONE)
  view.userChanged(ALICE)
  const second = view.lookup(ALICE, LAPTOP)
  database.releaseAll()
  await Promise.all([first, second])
  database.holding = false
  await view.lookup(ALICE, PHONE)
  await view.lookup(ALICE, LAPTOP)
  t.equal(database.reads, 3, 'the laptop\'s read began after the notification and is kept; the phone\'s is read again')
})

t.test('disconnected: every lookup reads through, nothing is kept; a reconnection starts empty', async (t) => {
  const { view, database, sources } = setUp()
  await view.lookup(ALICE, PHONE)
  view.disconnect()
  t.equal(view.connected, false)
  t.same(view.size, { users: 0, sessions: 0 }, 'forgotten at once')
  await view.lookup(ALICE, PHONE)
  await view.lookup(ALICE, PHONE)
  t.equal(database.reads, 3)
  t.same(sources, ['miss', 'read_through', 'read_through'])

  // A read that began before a reconnection is not kept either: notifications may have been missed meanwhile.
  database.holding = true
  const inFlight = view.lookup(ALICE, PHONE)
  view.connect()
  database.releaseAll()
  await inFlight
  database.holding = false
  t.same(view.size, { users: 0, sessions: 0 })
  await view.lookup(ALICE, PHONE)
  await view.lookup(ALICE, PHONE)
  t.equal(database.reads, 5, 'kept from the first read after the reconnection')
})

t.test('the view keeps at most maxEntries users and sessions, the least recently used going first', async (t) => {
  const { view, database } = setUp(2)
  const sessions = [PHONE, LAPTOP, '00000000-0000-4000-8000-0000000000a3']
  for (const session of sessions) await view.lookup(ALICE, session)
  t.same(view.size, { users: 1, sessions: 2 })
  await view.lookup(ALICE, LAPTOP)
  await view.lookup(ALICE, sessions[2] as string)
  t.equal(database.reads, 3, 'the two newest are kept')
  await view.lookup(ALICE, PHONE)
  t.equal(database.reads, 4, 'the oldest was dropped')

  const none = setUp(0)
  await none.view.lookup(ALICE, PHONE)
  await none.view.lookup(ALICE, PHONE)
  t.equal(none.database.reads, 2, 'SESSION_CACHE_MAX_ENTRIES=0 keeps nothing')
  t.same(none.view.size, { users: 0, sessions: 0 })
})

t.test('a kept session past its expiry is read again; a session that is not live is never kept', async (t) => {
  let now = NOW
  const database = new ScriptedDatabase()
  const view = new SessionView(database.read, { maxEntries: 10, now: () => now })
  view.connect()
  await view.lookup(ALICE, PHONE)
  now = NOW + 3600_000
  database.current = row({ session_live: false })
  t.same(await view.lookup(ALICE, PHONE), { refusal: 'the session of this token has ended' })
  t.same(await view.lookup(ALICE, PHONE), { refusal: 'the session of this token has ended' })
  t.equal(database.reads, 3)
  t.same(view.size, { users: 1, sessions: 0 })
})

t.test('catchUp: true without a barrier or when disconnected; a barrier that fails disconnects the view', async (t) => {
  const database = new ScriptedDatabase()
  let barrier = true
  const view = new SessionView(database.read, { maxEntries: 10, catchUp: async () => barrier })
  t.equal(await view.catchUp(), true, 'not connected: nothing to wait for')
  view.connect()
  await view.lookup(ALICE, PHONE)
  t.equal(await view.catchUp(), true)
  t.equal(view.size.users, 1)
  barrier = false
  t.equal(await view.catchUp(), false)
  t.equal(view.connected, false, 'a listener that does not catch up is not trusted')
  t.same(view.size, { users: 0, sessions: 0 })
  t.equal(await new SessionView(database.read, { maxEntries: 10 }).catchUp(), true, 'notifications at commit: no barrier')
})
