import { randomBytes } from 'node:crypto'
import { availableParallelism } from 'node:os'
import argon2 from 'argon2'

/** Argon2 version 1.3, the only one argon2 still produces. */
const ARGON2_VERSION = 0x13

export interface Argon2Parameters {
  memoryKib: number
  timeCost: number
  parallelism: number
}

export interface VerifyResult {
  ok: boolean
  /** The stored hash was made with weaker parameters (or another algorithm) than today's, or before NFKC. */
  needsRehash: boolean
}

/**
 * Runs at most `max` tasks at once; the rest wait in order. argon2 computations are
 * CPU-bound, so more of them at once than there are cores finish no sooner: they only hold
 * more of libuv's shared thread pool (which fs and dns also need), and `memoryKib` each.
 */
class ConcurrencyLimit {
  #active = 0
  readonly #waiting: Array<() => void> = []

  constructor (private readonly max: number) {}

  async run<T> (task: () => Promise<T>): Promise<T> {
    if (this.#active < this.max) this.#active += 1
    else await new Promise<void>((resolve) => { this.#waiting.push(resolve) })
    try {
      return await task()
    } finally {
      // Hand the slot straight to the next waiter, if any.
      const next = this.#waiting.shift()
      if (next === undefined) this.#active -= 1
      else next()
    }
  }
}

/** One argon2 computation per core, process-wide (see docs/performance.md). */
const hashingSlots = new ConcurrencyLimit(Math.max(1, availableParallelism()))

/** Where password work is reported (the metrics), if anywhere: seconds of each hash or verification. */
export interface PasswordWorkObserver {
  passwordWork: (operation: 'hash' | 'verify', seconds: number) => void
}

/**
 * argon2id hashing. Hashing runs on libuv's thread pool, so the event loop stays free.
 * `verifyOrDummy` makes an unknown account cost the same as a wrong password.
 */
export class PasswordHasher {
  readonly #options: argon2.HashOptions
  #dummyHash: Promise<string> | undefined

  constructor (parameters: Argon2Parameters, private readonly observer?: PasswordWorkObserver) {
    this.#options = {
      type: argon2.argon2id,
      memoryCost: parameters.memoryKib,
      timeCost: parameters.timeCost,
      parallelism: parameters.parallelism
    }
  }

  async hash (password: string): Promise<string> {
    return this.#observed('hash', async () => hashingSlots.run(async () => argon2.hash(password.normalize('NFKC'), this.#options)))
  }

  /**
   * Verifies against `storedHash`; with no hash (unknown user, passwordless account) it burns
   * the same time and fails. Passwords are compared in NFKC (NIST SP 800-63B §5.1.1.2), so
   * "ﬁ" and "fi", or a full-width and an ASCII digit, are one password. Hashes made before
   * passwords were normalised are tried with the password as typed too, and re-hashed.
   */
  async verifyOrDummy (storedHash: string | null | undefined, password: string): Promise<VerifyResult> {
    return this.#observed('verify', async () => this.#verifyOrDummy(storedHash, password))
  }

  async #verifyOrDummy (storedHash: string | null | undefined, password: string): Promise<VerifyResult> {
    const normalized = password.normalize('NFKC')
    const candidates = normalized === password ? [normalized] : [normalized, password]
    // An unknown account costs as many verifications as a wrong password would.
    const hash = storedHash ?? await this.dummyHash()
    for (const candidate of candidates) {
      if (await this.#verifyQuietly(hash, candidate) && storedHash !== null && storedHash !== undefined) {
        return { ok: true, needsRehash: candidate !== normalized || this.needsRehash(storedHash) }
      }
    }
    return { ok: false, needsRehash: false }
  }

  /** True when the hash is not argon2id or is weaker than today's parameters (never downgrades a stronger one). */
  needsRehash (storedHash: string): boolean {
    const match = /^\$argon2id\$v=(\d+)\$([a-z]=\d+(?:,[a-z]=\d+)*)\$/.exec(storedHash)
    if (match === null) return true
    const parameters = new Map((match[2] ?? '').split(',').map((pair) => [pair[0], Number(pair.slice(2))]))
    return Number(match[1]) < ARGON2_VERSION ||
      (parameters.get('m') ?? 0) < (this.#options.memoryCost ?? 0) ||
      (parameters.get('t') ?? 0) < (this.#options.timeCost ?? 0)
  }

  /** A hash of a random password at today's parameters; made once, on first use. */
  dummyHash (): Promise<string> {
    this.#dummyHash ??= this.hash(randomBytes(32).toString('base64url'))
    return this.#dummyHash
  }

  /** Times `work`, the wait for a hashing slot included, for the observer. */
  async #observed<T> (operation: 'hash' | 'verify', work: () => Promise<T>): Promise<T> {
    if (this.observer === undefined) return work()
    const started = process.hrtime.bigint()
    try {
      return await work()
    } finally {
      this.observer.passwordWork(operation, Number(process.hrtime.bigint() - started) / 1e9)
    }
  }

  async #verifyQuietly (storedHash: string, password: string): Promise<boolean> {
    try {
      return await hashingSlots.run(async () => argon2.verify(storedHash, password))
    } catch {
      // A corrupt stored hash is a failed login, not a 500.
      return false
    }
  }
}
