import type { Kysely } from 'kysely'
import type { Config, JwtAlgorithm } from '../../config.js'
import { isMissingTable } from '../../db/errors.js'
import type { Database, SigningKeyRow } from '../../db/types.js'
import { KeyEncryption, publishedJwk, type AsymmetricAlgorithm, type PublishedJwk } from './key-material.js'
import { ensureActiveKey } from './key-rotation.js'
import { findVerifyingKeys } from './signing-keys.repository.js'

export interface SigningKey {
  /** Key id (RFC 7638 thumbprint) for asymmetric keys; none for a shared secret. */
  kid: string | undefined
  algorithm: JwtAlgorithm
  /** PEM private key, or the HS256 secret. */
  privateKey: string
}

/** Re-reading the table on an unknown kid is throttled so a flood of forged kids cannot hammer the database. */
const UNKNOWN_KID_RELOAD_INTERVAL_MS = 5000

export interface KeyStoreOptions {
  /** How often the table is re-read, so a rotation made elsewhere is picked up (default 30 s). */
  refreshIntervalMs?: number
  /** KEYS_ENCRYPTION_KEY: private keys are encrypted at rest when set. */
  encryptionKey?: string | null
  /** Where a failed periodic refresh is reported (the keys already loaded stay in use). */
  onRefreshError?: (error: unknown) => void
}

/**
 * The keys tokens are signed and verified with. One algorithm (JWT_ALGORITHM): with RS256,
 * ES256 or EdDSA the keys live in the database, made on first use (under an advisory lock,
 * so instances starting together agree on one); every instance signs with the newest active
 * key and verifies with the active and recently retired ones. The table is re-read every
 * `refreshIntervalMs` (and on an unknown kid, throttled), so a rotation reaches every
 * instance without a restart. Loading is lazy so the service can start, and say it is not
 * ready, while migrations are still pending.
 */
export class KeyStore {
  /** HS256: the shared secret. */
  readonly #secretKey: SigningKey | undefined
  /** The row of the key that signs (its private key is decrypted only when signing). */
  #signingRow: SigningKeyRow | undefined
  #verifying: SigningKeyRow[] = []
  #publicKeys = new Map<string, string>()
  #privateKeys = new Map<string, string>()
  #lastReload = 0
  #loading: Promise<void> | undefined
  #timer: NodeJS.Timeout | undefined
  #closed = false
  readonly #encryption: KeyEncryption

  private constructor (
    private readonly db: Kysely<Database> | null,
    private readonly algorithm: JwtAlgorithm,
    private readonly options: KeyStoreOptions,
    signingKey?: SigningKey
  ) {
    this.#secretKey = signingKey
    this.#encryption = new KeyEncryption(db === null ? null : options.encryptionKey ?? null)
  }

  static create (db: Kysely<Database>, jwt: Config['jwt'], options: KeyStoreOptions = {}): KeyStore {
    if (jwt.algorithm === 'HS256') {
      return new KeyStore(null, 'HS256', options, { kid: undefined, algorithm: 'HS256', privateKey: requireSecret(jwt.secretKey) })
    }
    return new KeyStore(db, jwt.algorithm, options)
  }

  /** The key new tokens are signed with (made and stored on first use). */
  async signingKey (): Promise<SigningKey> {
    if (this.#secretKey !== undefined) return this.#secretKey
    await this.#ensureLoaded()
    const row = this.#signingRow
    if (row === undefined) throw new Error('no active signing key')
    return { kid: row.kid, algorithm: this.algorithm, privateKey: this.#privateKeyOf(row) }
  }

  /** The key that verifies a token with this `kid`; throws for an unknown one. */
  async verificationKey (kid: unknown): Promise<string> {
    if (this.#secretKey !== undefined) return this.#secretKey.privateKey
    await this.#ensureLoaded()
    if (typeof kid !== 'string' || kid === '' || kid.length > 128) throw new Error('token has no usable kid')
    const known = this.#publicKeys.get(kid)
    if (known !== undefined) return known
    if (Date.now() - this.#lastReload >= UNKNOWN_KID_RELOAD_INTERVAL_MS) await this.reload()
    const reloaded = this.#publicKeys.get(kid)
    if (reloaded === undefined) throw new Error('unknown kid')
    return reloaded
  }

  /** Whether a token signed with `kid` still verifies, by the keys loaded now (no reload): a retired key's tokens stop at the refresh that drops it. */
  verifies (kid: string | undefined): boolean {
    return this.#secretKey !== undefined || (kid !== undefined && this.#publicKeys.has(kid))
  }

  /** The public keys for the JWKS: every key that verifies; none with a shared secret. */
  async publishedKeys (): Promise<PublishedJwk[]> {
    if (this.db === null) return []
    await this.#ensureLoaded()
    return this.#verifying.map((row) => publishedJwk(row.kid, row.algorithm, row.public_key))
  }

  async reload (): Promise<void> {
    if (this.db === null) return
    this.#lastReload = Date.now()
    const rows = await findVerifyingKeys(this.db, this.algorithm)
    this.#verifying = rows
    this.#publicKeys = new Map(rows.map((row) => [row.kid, row.public_key]))
    const newest = rows[0]
    if (newest?.status === 'active') this.#signingRow = newest
  }

  /**
   * Throws KeyDecryptionError when a stored active key cannot be opened with this instance's
   * KEYS_ENCRYPTION_KEY, so a misconfigured instance refuses to start instead of failing
   * every login. Creates nothing; a missing table (migrations pending) is left to /ready.
   */
  async assertDecryptable (): Promise<void> {
    if (this.db === null) return
    let rows: SigningKeyRow[]
    try {
      rows = await findVerifyingKeys(this.db, this.algorithm)
    } catch (error) {
      if (isMissingTable(error)) return
      throw error
    }
    for (const row of rows.filter((candidate) => candidate.status === 'active')) this.#privateKeyOf(row)
  }

  /** Whether the periodic refresh is running (it starts with the first load). */
  get refreshing (): boolean {
    return this.#timer !== undefined
  }

  /** Stops the periodic refresh (the app's onClose). */
  close (): void {
    this.#closed = true
    clearInterval(this.#timer)
    this.#timer = undefined
  }

  #privateKeyOf (row: SigningKeyRow): string {
    let pem = this.#privateKeys.get(row.kid)
    if (pem === undefined) {
      pem = this.#encryption.open(row.kid, row.private_key)
      this.#privateKeys.set(row.kid, pem)
    }
    return pem
  }

  async #ensureLoaded (): Promise<void> {
    if (this.#signingRow !== undefined) return
    this.#loading ??= this.#load().finally(() => { this.#loading = undefined })
    await this.#loading
  }

  async #load (): Promise<void> {
    if (this.db === null) throw new Error('no database for signing keys')
    await ensureActiveKey(this.db, this.algorithm as AsymmetricAlgorithm, this.#encryption)
    await this.reload()
    if (this.#signingRow === undefined) throw new Error('no signing key after creating one')
    this.#startRefresh()
  }

  #startRefresh (): void {
    if (this.#timer !== undefined || this.#closed) return
    this.#timer = setInterval(() => {
      this.#refresh().catch((error: unknown) => this.options.onRefreshError?.(error))
    }, this.options.refreshIntervalMs ?? 30_000)
    this.#timer.unref()
  }

  /** A periodic re-read; if every key was retired elsewhere, a new one is made. */
  async #refresh (): Promise<void> {
    await this.reload()
    const newest = this.#verifying[0]
    if (newest?.status !== 'active' && this.db !== null) {
      await ensureActiveKey(this.db, this.algorithm as AsymmetricAlgorithm, this.#encryption)
      await this.reload()
    }
  }
}

function requireSecret (secret: string | null): string {
  if (secret === null) throw new Error('JWT_SECRET_KEY is required for HS256')
  return secret
}
