import { spawnSync } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { readdir, readFile, stat, utimes, writeFile } from 'node:fs/promises'
import { hostname } from 'node:os'
import { join } from 'node:path'
import { setTimeout as delay } from 'node:timers/promises'
import t from 'tap'
import { acquireLock, DataDirInUseError, LOCK_FILE, STALE_AFTER_MS, type DataDirLock, type LockHolder } from '../../src/db/data-dir-lock.js'

/**
 * The DATA_DIR lock on its own (test/db/data-dir.test.ts runs it with real servers): who is
 * a live holder, who is stale, and that two takers of a stale lock never both win. Files
 * only, no database: the same on every TEST_DB.
 */
const linux = existsSync('/proc/self/stat')

/** A pid that no process has any more. */
function deadPid (): number {
  const { pid } = spawnSync(process.execPath, ['-e', ''])
  if (pid === undefined) throw new Error('could not start a process')
  return pid
}

function holder (fields: Partial<LockHolder>): LockHolder {
  return { pid: deadPid(), host: hostname(), bootId: null, startTicks: null, since: '2026-01-01T00:00:00.000Z', token: 'aaaa', ...fields }
}

async function writeLock (directory: string, content: LockHolder | string): Promise<void> {
  await writeFile(join(directory, LOCK_FILE), typeof content === 'string' ? content : JSON.stringify(content), { mode: 0o600 })
}

async function lockedBy (directory: string): Promise<LockHolder> {
  return JSON.parse(await readFile(join(directory, LOCK_FILE), 'utf8')) as LockHolder
}

t.test('a free directory is locked with the holder\'s pid, and release removes the lock', async (t) => {
  const directory = t.testdir()
  const lock = await acquireLock(directory)
  t.equal(lock.tookOverFrom, null)
  t.match(await lockedBy(directory), { pid: process.pid, host: hostname(), token: lock.holder.token })
  await t.rejects(acquireLock(directory), DataDirInUseError, 'the same process cannot take it twice')
  await lock.release()
  t.same(await readdir(directory), [], 'no lock and no temporary file left')
})

t.test('a lock of a dead process is taken over, and its holder is named', async (t) => {
  const directory = t.testdir()
  const dead = holder({})
  await writeLock(directory, dead)
  const lock = await acquireLock(directory)
  t.equal(lock.tookOverFrom, dead.pid)
  t.equal((await lockedBy(directory)).token, lock.holder.token)
  await lock.release()
  t.same(await readdir(directory), [])
})

t.test('two takers of one stale lock: exactly one wins, the others name it', async (t) => {
  for (let round = 0; round < 5; round++) {
    const directory = t.testdir()
    await writeLock(directory, holder({ token: `dead${round}` }))
    const results = await Promise.allSettled(Array.from({ length: 8 }, async () => acquireLock(directory)))
    const winners = results.filter((result) => result.status === 'fulfilled')
    t.equal(winners.length, 1, `round ${round}: one winner`)
    for (const result of results) {
      if (result.status === 'rejected') {
        t.type(result.reason, DataDirInUseError)
        t.match((result.reason as Error).message, `in use by process ${process.pid}`)
      }
    }
    const [winner] = winners
    if (winner?.status === 'fulfilled') {
      t.equal((await lockedBy(directory)).token, winner.value.holder.token, 'the lock file names the winner')
      await winner.value.release()
    }
    t.same(await readdir(directory), [], 'no claim or temporary file left behind')
  }
})

t.test('a taker overtaken between finding the lock stale and taking it over does not take the new holder\'s lock', async (t) => {
  const directory = t.testdir()
  await writeLock(directory, holder({ token: 'abab' }))
  let overtaker: DataDirLock | undefined
  const late = acquireLock(directory, { beforeTakeover: async () => { overtaker ??= await acquireLock(directory) } })
  await t.rejects(late, { name: 'DataDirInUseError', message: new RegExp(`in use by process ${process.pid},`) })
  t.ok(overtaker, 'the other taker took the lock over meanwhile')
  t.equal((await lockedBy(directory)).token, overtaker?.holder.token, 'and keeps it')
  await overtaker?.release()
  t.same(await readdir(directory), [])
})

t.test('our own pid in a lock that is not ours is an earlier process (pid 1 in a restarted container)', async (t) => {
  const directory = t.testdir()
  await writeLock(directory, holder({ pid: process.pid, token: 'bbbb' }))
  const lock = await acquireLock(directory)
  t.equal(lock.tookOverFrom, process.pid)
  await lock.release()
})

t.test('a live pid counts only if it is the same process (not a reused pid)', { skip: !linux && 'needs /proc' }, async (t) => {
  const parent = process.ppid
  const stat = readFileSync(`/proc/${parent}/stat`, 'utf8')
  const startTicks = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? ''
  const bootId = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim()

  const live = t.testdir({ sub: {} })
  await writeLock(live, holder({ pid: parent, bootId, startTicks, token: 'cccc' }))
  await t.rejects(acquireLock(live), { name: 'DataDirInUseError', message: new RegExp(`in use by process ${parent},.*stop the server \\(pid ${parent}\\) first, or use PostgreSQL \\(DATABASE_URL\\)`) })
  t.equal((await lockedBy(live)).token, 'cccc', 'the live holder keeps its lock')

  const reused = join(live, 'sub')
  await writeLock(reused, holder({ pid: parent, bootId, startTicks: `${startTicks}0`, token: 'dddd' }))
  const lock = await acquireLock(reused)
  t.equal(lock.tookOverFrom, parent, 'same pid, other start time: stale')
  await lock.release()
})

t.test('a lock from before a reboot is stale', { skip: !linux && 'needs /proc' }, async (t) => {
  const directory = t.testdir()
  await writeLock(directory, holder({ pid: process.ppid, bootId: 'another-boot', token: 'eeee' }))
  const lock = await acquireLock(directory)
  t.equal(lock.tookOverFrom, process.ppid)
  await lock.release()
})

t.test('a lock another host refreshes is refused; the message says what to do', async (t) => {
  const directory = t.testdir()
  await writeLock(directory, holder({ pid: 4242, host: 'elsewhere.example', token: 'ffff' }))
  await t.rejects(acquireLock(directory), {
    name: 'DataDirInUseError',
    message: `DATA_DIR "${directory}" is in use by process 4242 on host elsewhere.example, since 2026-01-01T00:00:00.000Z; stop it first, or use PostgreSQL (DATABASE_URL); a lock its holder stops refreshing is taken over after 60 s`
  })
})

t.test('a lock another host (a crashed container) stopped refreshing a minute ago is taken over', async (t) => {
  const directory = t.testdir()
  await writeLock(directory, holder({ pid: 1, host: 'crashed-container', token: 'ffff' }))
  const lastTouched = new Date(Date.now() - STALE_AFTER_MS - 1000)
  await utimes(join(directory, LOCK_FILE), lastTouched, lastTouched)
  const lock = await acquireLock(directory)
  t.equal(lock.tookOverFrom, 1)
  t.equal((await lockedBy(directory)).token, lock.holder.token)
  await lock.release()
})

t.test('the holder keeps touching its lock file while it holds it, and stops on release', async (t) => {
  const directory = t.testdir()
  const lock = await acquireLock(directory, { heartbeatMs: 20 })
  const path = join(directory, LOCK_FILE)
  const past = new Date(Date.now() - 3_600_000)
  await utimes(path, past, past)
  // Polls a condition, not a duration: it ends with the first heartbeat, however late it comes.
  while ((await stat(path)).mtimeMs < past.getTime() + 1000) await delay(20)
  t.pass('touched again after it was set an hour back')
  await lock.release()
  t.notOk(existsSync(path))
})

t.test('a lock file that names no holder (garbage) is stale', async (t) => {
  const directory = t.testdir()
  await writeLock(directory, 'not json')
  const lock = await acquireLock(directory)
  t.equal(lock.tookOverFrom, null, 'no process to name')
  await lock.release()
  t.same(await readdir(directory), [])
})

t.test('releasing twice is harmless, and an old release leaves the next holder\'s lock alone', async (t) => {
  const directory = t.testdir()
  const lock = await acquireLock(directory)
  await lock.release()
  await lock.release()
  const other = await acquireLock(directory)
  await lock.release()
  t.equal((await lockedBy(directory)).token, other.holder.token, 'an old release does not remove the next holder\'s lock')
  await other.release()
})
