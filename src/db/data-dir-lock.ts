import { randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { link, readFile, rename, rm, stat, utimes, writeFile } from 'node:fs/promises'
import { hostname } from 'node:os'
import { join } from 'node:path'

/**
 * One process at a time on an embedded data directory. PGlite has no lock of its own: two
 * processes on one directory each replay and overwrite the other's writes. The lock is a
 * file in the directory naming its holder; it is created with link(2), which fails when the
 * name exists, so creating it is atomic and it is never seen half written.
 *
 * On this host a holder is alive while its process runs. Another host's processes (another
 * container on a shared volume: its own hostname and pid namespace) cannot be looked at, so
 * the holder touches the file every HEARTBEAT_MS and a lock left untouched for STALE_AFTER_MS
 * is stale: a crashed container does not keep its successor out.
 */
export const LOCK_FILE = 'user-service.lock'
export const HEARTBEAT_MS = 15_000
export const STALE_AFTER_MS = 4 * HEARTBEAT_MS

/** Who holds a lock, and enough to tell later whether that process still runs. */
export interface LockHolder {
  pid: number
  host: string
  /** Linux: the boot this process runs in, and its start time in clock ticks since boot (a reused pid starts later). */
  bootId: string | null
  startTicks: string | null
  since: string
  /** Unique per acquisition: a takeover names exactly the holder it replaces. */
  token: string
}

export class DataDirInUseError extends Error {
  override name = 'DataDirInUseError'

  /**
   * `inUse`: which process holds the directory (`DATA_DIR "…" is in use by process N, since …`);
   * `advice`: what to do about it. The message is both; a caller with better advice keeps `inUse`.
   */
  constructor (readonly inUse: string, advice: string, readonly holder: LockHolder) {
    super(`${inUse}; ${advice}`)
  }
}

export interface DataDirLock {
  holder: LockHolder
  /** The pid of the dead process whose lock was taken over (null: none, or a lock file naming nobody). */
  tookOverFrom: number | null
  release: () => Promise<void>
}

/** Tokens of the locks this process holds or is acquiring: a live holder, whatever its pid says. */
const ownTokens = new Set<string>()

export interface LockOptions {
  /** Tests: runs when a holder was found stale, before the takeover, to let another taker overtake this one. */
  beforeTakeover?: (stale: LockHolder) => Promise<void>
  /** Tests: how often the holder touches the lock file (HEARTBEAT_MS). */
  heartbeatMs?: number
}

export async function acquireLock (directory: string, options: LockOptions = {}): Promise<DataDirLock> {
  const holder = currentHolder()
  const lockPath = join(directory, LOCK_FILE)
  const staging = `${lockPath}.${holder.token}.tmp`
  ownTokens.add(holder.token)
  try {
    await writeFile(staging, `${JSON.stringify(holder)}\n`, { mode: 0o600, flag: 'wx' })
    const tookOverFrom = await claim({ path: lockPath, staging, holder, directory, options })
    const heartbeat = setInterval(() => { void touch(lockPath) }, options.heartbeatMs ?? HEARTBEAT_MS).unref()
    return {
      holder,
      tookOverFrom,
      release: async () => {
        clearInterval(heartbeat)
        await release(lockPath, holder)
      }
    }
  } catch (error) {
    ownTokens.delete(holder.token)
    throw error
  } finally {
    await rm(staging, { force: true })
  }
}

interface Claim { path: string, staging: string, holder: LockHolder, directory: string, options: LockOptions }

/**
 * Makes `path` name our lock; returns the pid of a dead holder it replaced. A stale holder is
 * replaced only by whoever first creates `<path>.<its token>.reap` (the same claim, one level
 * down, so a reaper that died is reaped in turn): two takers can never both win.
 */

async function claim (claiming: Claim): Promise<number | null> {
  const { path, staging, holder, directory, options } = claiming
  for (;;) {
    if (await linkIfAbsent(staging, path)) return null
    const current = await readHolder(path)
    if (current === null) continue
    if (isAlive(current)) throw inUseError(directory, current)
    await options.beforeTakeover?.(current.holder)
    const stale = current.holder
    const reaping = `${path}.${stale.token}.reap`
    await claim({ ...claiming, path: reaping })
    try {
      // Only the holder of `reaping` may replace `current`; if it is gone already, start over.
      if ((await readHolder(path))?.holder.token === stale.token) {
        const replacement = `${path}.${holder.token}.new`
        await link(staging, replacement)
        await rename(replacement, path)
        return stale.pid > 0 ? stale.pid : null
      }
    } finally {
      await rm(reaping, { force: true })
    }
  }
}

async function release (lockPath: string, holder: LockHolder): Promise<void> {
  if (!ownTokens.has(holder.token)) return
  if ((await readHolder(lockPath))?.holder.token === holder.token) await rm(lockPath, { force: true })
  ownTokens.delete(holder.token)
}

/** The heartbeat: a failed touch (the directory gone, a full disk) is left to the database to report. */
async function touch (path: string): Promise<void> {
  const now = new Date()
  await utimes(path, now, now).catch(() => {})
}

async function linkIfAbsent (existing: string, path: string): Promise<boolean> {
  try {
    await link(existing, path)
    return true
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false
    throw error
  }
}

/** A lock file's holder and when it last touched the file (its heartbeat). */
interface LockFile { holder: LockHolder, touchedAt: number }

/** The holder named in a lock file; null when the file is gone. A file that does not parse is a holder nobody can be. */
async function readHolder (path: string): Promise<LockFile | null> {
  let text: string
  let touchedAt: number
  try {
    [text, { mtimeMs: touchedAt }] = await Promise.all([readFile(path, 'utf8'), stat(path)])
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null
    throw error
  }
  try {
    const parsed = JSON.parse(text) as Partial<LockHolder>
    if (typeof parsed.pid === 'number' && typeof parsed.token === 'string' && /^[0-9a-f]+$/.test(parsed.token)) return { holder: parsed as LockHolder, touchedAt }
  } catch {
    // Not JSON: as unreadable as a wrong shape.
  }
  return { holder: { pid: 0, host: hostname(), bootId: null, startTicks: null, since: '', token: 'unreadable' }, touchedAt }
}

function isAlive ({ holder, touchedAt }: LockFile): boolean {
  if (ownTokens.has(holder.token)) return true
  // Another host's processes cannot be looked at from here: alive while it keeps touching the file.
  if (holder.host !== hostname()) return Date.now() - touchedAt < STALE_AFTER_MS
  if (holder.bootId !== null && bootId !== null && holder.bootId !== bootId) return false
  // Our own pid that is not one of our locks: an earlier process with this pid (pid 1 in a container).
  if (!Number.isSafeInteger(holder.pid) || holder.pid <= 0 || holder.pid === process.pid) return false
  try {
    process.kill(holder.pid, 0)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ESRCH') return false
  }
  const startTicks = processStartTicks(holder.pid)
  return holder.startTicks === null || startTicks === null || startTicks === holder.startTicks
}

function inUseError (directory: string, { holder }: LockFile): DataDirInUseError {
  const since = holder.since === '' ? '' : `, since ${holder.since}`
  if (holder.host !== hostname()) {
    return new DataDirInUseError(`DATA_DIR "${directory}" is in use by process ${holder.pid} on host ${holder.host}${since}`,
      `stop it first, or use PostgreSQL (DATABASE_URL); a lock its holder stops refreshing is taken over after ${STALE_AFTER_MS / 1000} s`, holder)
  }
  return new DataDirInUseError(`DATA_DIR "${directory}" is in use by process ${holder.pid}${since}`,
    `stop the server (pid ${holder.pid}) first, or use PostgreSQL (DATABASE_URL) to run several processes on one database`, holder)
}

function currentHolder (): LockHolder {
  return {
    pid: process.pid,
    host: hostname(),
    bootId,
    startTicks: processStartTicks(process.pid),
    since: new Date().toISOString(),
    token: randomBytes(12).toString('hex')
  }
}

const bootId = readOrNull('/proc/sys/kernel/random/boot_id')?.trim() ?? null

/** Field 22 of /proc/<pid>/stat (after the parenthesised command name, which may hold spaces). */
function processStartTicks (pid: number): string | null {
  const stat = readOrNull(`/proc/${pid}/stat`)
  if (stat === null) return null
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? null
}

function readOrNull (path: string): string | null {
  try {
    return readFileSync(path, 'utf8')
  } catch {
    return null
  }
}
