import { chmodSync, lstatSync, readdirSync, statSync } from 'node:fs'
import { chmod, mkdir, stat } from 'node:fs/promises'
import { join, relative, resolve } from 'node:path'
import { errorMessage } from '../error-message.js'
import { acquireLock, DataDirInUseError } from './data-dir-lock.js'

export { DataDirInUseError } from './data-dir-lock.js'

/**
 * The embedded database's directory (DATA_DIR): private to the user who runs the service,
 * used by one process at a time. See DESIGN.md, "Hardening rules → Embedded data directory".
 */
export interface DataDirectory {
  path: string
  /** Entries (relative to `path`) whose permissions were tightened at start: readable or writable by others before. */
  tightened: string[]
  /** The pid of a dead process whose stale lock was taken over. */
  tookOverFrom: number | null
  /** Releases the lock. */
  close: () => Promise<void>
}

/** What opening the directory changed, one line each, for the log (server) or stderr (CLI). */
export function dataDirNotices (directory: Pick<DataDirectory, 'path' | 'tightened' | 'tookOverFrom'>): string[] {
  const notices: string[] = []
  if (directory.tookOverFrom !== null) {
    notices.push(`DATA_DIR "${directory.path}": took over the lock of process ${directory.tookOverFrom}, which no longer runs`)
  }
  const count = directory.tightened.length
  if (count > 0) {
    const examples = directory.tightened.slice(0, 3).join(', ')
    notices.push(`DATA_DIR "${directory.path}": tightened the permissions of ${count} ${count === 1 ? 'entry' : 'entries'} that other users could read or write (${examples}${count > 3 ? ', ...' : ''}): directories are now 0700, files 0600`)
  }
  return notices
}

/** DATA_DIR cannot be used (permissions, ownership, read-only, not a directory, ...); the message says what to do. */
export class DataDirError extends Error {
  override name = 'DataDirError'
}

const DIRECTORY_MODE = 0o700
const FILE_MODE = 0o600
const checksModes = process.platform !== 'win32'

/**
 * Creates or checks DATA_DIR, takes its lock and makes what is already in it private (an
 * older version, or a copy, may have left it readable by others). What PGlite writes from
 * then on is private by itself (see PrivateNodeFS).
 */
export async function openDataDirectory (dataDir: string): Promise<DataDirectory> {
  const path = resolve(dataDir)
  await ensureDirectory(path)
  const lock = await acquireLock(path).catch((error: unknown) => {
    throw error instanceof DataDirInUseError ? error : unusable(path, error, 'creating its lock file in')
  })
  try {
    return { path, tightened: tighten(path), tookOverFrom: lock.tookOverFrom, close: lock.release }
  } catch (error) {
    await lock.release()
    throw error
  }
}

async function ensureDirectory (path: string): Promise<void> {
  try {
    // Private from its first moment, before anything is written into it.
    const created = await mkdir(path, { recursive: true, mode: DIRECTORY_MODE })
    if (created !== undefined && checksModes) await chmod(path, DIRECTORY_MODE)
  } catch (error) {
    // A recursive mkdir reports ENOENT for a directory it could not create on a read-only
    // file system; a plain one tells the real cause.
    const cause = errorCode(error) === 'ENOENT' ? await mkdir(path).then(() => error, (plain: unknown) => plain) : error
    throw unusable(path, cause, 'creating')
  }
  const found = await stat(path).catch((error: unknown) => { throw unusable(path, error, 'reading') })
  if (!found.isDirectory()) throw new DataDirError(`DATA_DIR "${path}" is not a directory; set DATA_DIR to a directory (it is created when missing)`)
  if (!checksModes) return
  const uid = process.getuid?.()
  if (uid !== undefined && found.uid !== uid) {
    throw new DataDirError(`data directory "${path}" (DATA_DIR) has wrong ownership: it belongs to uid ${found.uid}, this process runs as uid ${uid}; start the service as its owner, or "chown -R ${uid} ${path}", or set DATA_DIR to another directory`)
  }
  const mode = found.mode & 0o777
  if ((mode & 0o022) !== 0) {
    throw new DataDirError(`data directory "${path}" (DATA_DIR) has invalid permissions (${octal(mode)}): other users can write to it; check its contents, then "chmod 700 ${path}"`)
  }
}

/** Sets every directory to 0700 and every other file to 0600 under `root`; returns what it changed. */
function tighten (root: string): string[] {
  if (!checksModes) return []
  const changed: string[] = []
  const visit = (path: string): void => {
    // DATA_DIR itself may be a symbolic link to the directory; links inside it are left alone.
    const entry = path === root ? statSync(path) : lstatSync(path)
    if (entry.isSymbolicLink()) return
    const wanted = entry.isDirectory() ? DIRECTORY_MODE : FILE_MODE
    if ((entry.mode & 0o777) !== wanted) {
      try {
        chmodSync(path, wanted)
      } catch (error) {
        throw unusable(root, error, 'changing the permissions of', path)
      }
      changed.push(relative(root, path) || '.')
    }
    // Sorted: the same entries are named first every time.
    if (entry.isDirectory()) for (const name of readdirSync(path).sort()) visit(join(path, name))
  }
  visit(root)
  return changed
}

/** A one-line DataDirError for a failed file operation: the path, the cause and what to do. */
export function unusable (dataDir: string, error: unknown, doing: string, target = dataDir): DataDirError {
  const code = errorCode(error)
  const cause = code === undefined ? errorMessage(error) : `${CAUSES[code] ?? 'error'} (${code})`
  return new DataDirError(`DATA_DIR "${dataDir}" cannot be used: ${cause} ${doing} ${target}; ${REMEDIES[code ?? ''] ?? REMEDY}`)
}

const REMEDY = 'set DATA_DIR to a directory this user can write (or DATABASE_URL to use PostgreSQL)'
const CAUSES: Record<string, string> = {
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EROFS: 'read-only file system',
  ENOTDIR: 'a part of the path is a file, not a directory',
  ENOSPC: 'no space left on the device',
  EDQUOT: 'disk quota exceeded',
  ENOENT: 'no such file or directory',
  EIO: 'input/output error'
}
const REMEDIES: Record<string, string> = {
  EACCES: `give this user write access to it (or to its parent), or ${REMEDY}`,
  EPERM: `give it to this user ("chown -R"), or ${REMEDY}`,
  EROFS: `mount it read-write, or ${REMEDY}`,
  ENOSPC: `free some space, or ${REMEDY}`,
  EDQUOT: `free some space, or ${REMEDY}`
}

/** Emscripten's errno numbers (PGlite throws its ErrnoError, which is not an Error and has no code). */
const EMSCRIPTEN_ERRNO: Record<number, string> = { 2: 'EACCES', 19: 'EDQUOT', 29: 'EIO', 44: 'ENOENT', 51: 'ENOSPC', 54: 'ENOTDIR', 63: 'EPERM', 69: 'EROFS' }

export function errorCode (error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null) return undefined
  const { code, errno, name } = error as { code?: unknown, errno?: unknown, name?: unknown }
  if (typeof code === 'string') return code
  if (name === 'ErrnoError' && typeof errno === 'number') return EMSCRIPTEN_ERRNO[errno] ?? `errno ${errno}`
  return undefined
}

function octal (mode: number): string {
  return `0${mode.toString(8).padStart(3, '0')}`
}
