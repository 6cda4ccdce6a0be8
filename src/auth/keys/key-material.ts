import { createCipheriv, createDecipheriv, createHash, createPublicKey, generateKeyPair as generateKeyPairCallback, randomBytes, scryptSync, type JsonWebKey } from 'node:crypto'
import { promisify } from 'node:util'

const generateKeyPair = promisify(generateKeyPairCallback)

/** The algorithms of keys kept in the database (HS256 uses JWT_SECRET_KEY instead). */
export type AsymmetricAlgorithm = 'RS256' | 'ES256' | 'EdDSA'

export const ASYMMETRIC_ALGORITHMS: readonly AsymmetricAlgorithm[] = ['RS256', 'ES256', 'EdDSA']

export function isAsymmetric (algorithm: string): algorithm is AsymmetricAlgorithm {
  return (ASYMMETRIC_ALGORITHMS as readonly string[]).includes(algorithm)
}

export interface KeyPair {
  kid: string
  algorithm: AsymmetricAlgorithm
  /** PEM (SPKI). */
  publicKey: string
  /** PEM (PKCS#8). */
  privateKey: string
}

/** A new key pair for `algorithm`: RSA-2048, P-256 or Ed25519; `kid` is its RFC 7638 thumbprint. */
export async function generateSigningKeyPair (algorithm: AsymmetricAlgorithm): Promise<KeyPair> {
  const { publicKey, privateKey } = await generatePemPair(algorithm)
  return { kid: jwkThumbprint(publicJwkOf(publicKey)), algorithm, publicKey, privateKey }
}

async function generatePemPair (algorithm: AsymmetricAlgorithm): Promise<{ publicKey: string, privateKey: string }> {
  const pair = algorithm === 'RS256'
    ? await generateKeyPair('rsa', { modulusLength: 2048 })
    : algorithm === 'ES256'
      ? await generateKeyPair('ec', { namedCurve: 'P-256' })
      : await generateKeyPair('ed25519', {})
  return {
    publicKey: pair.publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    privateKey: pair.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()
  }
}

export function publicJwkOf (publicKeyPem: string): JsonWebKey {
  return createPublicKey(publicKeyPem).export({ format: 'jwk' })
}

/** The members RFC 7638 §3.2 hashes, per key type, in lexicographic order. */
const thumbprintMembers: Record<string, string[]> = {
  RSA: ['e', 'kty', 'n'],
  EC: ['crv', 'kty', 'x', 'y'],
  OKP: ['crv', 'kty', 'x']
}

/** RFC 7638 JWK thumbprint (SHA-256, base64url) of a public key. */
export function jwkThumbprint (jwk: JsonWebKey): string {
  const members = thumbprintMembers[String(jwk.kty)]
  if (members === undefined) throw new Error(`no thumbprint for key type ${String(jwk.kty)}`)
  const canonical = JSON.stringify(Object.fromEntries(members.map((name) => [name, jwk[name]])))
  return createHash('sha256').update(canonical).digest('base64url')
}

/** A public JWK as published in the JWKS (RFC 7517): never private members. */
export interface PublishedJwk {
  kty: string
  kid: string
  alg: string
  use: 'sig'
  n?: string
  e?: string
  crv?: string
  x?: string
  y?: string
}

const publicMembers = ['kty', 'n', 'e', 'crv', 'x', 'y'] as const

export function publishedJwk (kid: string, algorithm: string, publicKeyPem: string): PublishedJwk {
  const jwk = publicJwkOf(publicKeyPem)
  const published: Record<string, unknown> = {}
  for (const member of publicMembers) if (typeof jwk[member] === 'string') published[member] = jwk[member]
  return { ...published, kid, alg: algorithm, use: 'sig' } as PublishedJwk
}

const ENVELOPE_PREFIX = 'enc:v1:'
/** Fixed, public salt: the secret itself carries the entropy; scrypt only slows down guessing a passphrase. */
const KDF_SALT = 'user-service:signing-keys:v1'

/** A stored private key this instance cannot use: KEYS_ENCRYPTION_KEY is missing or another one. */
export class KeyDecryptionError extends Error {
  override name = 'KeyDecryptionError'
}

/**
 * AES-256-GCM encryption of private keys at rest. The 256-bit key is derived from
 * KEYS_ENCRYPTION_KEY (any string of 32+ characters, e.g. `openssl rand -base64 32`) with
 * scrypt; each value gets a random 96-bit IV and the `kid` as additional authenticated
 * data, so an encrypted key cannot be swapped onto another row. Stored as
 * `enc:v1:<iv>.<tag>.<ciphertext>` (base64url).
 */
export class KeyEncryption {
  readonly #key: Buffer | null

  constructor (secret: string | null) {
    this.#key = secret === null ? null : scryptSync(secret, KDF_SALT, 32)
  }

  /** Encrypts when a key is configured; otherwise returns the PEM unchanged. */
  seal (kid: string, privateKeyPem: string): string {
    if (this.#key === null) return privateKeyPem
    const iv = randomBytes(12)
    const cipher = createCipheriv('aes-256-gcm', this.#key, iv).setAAD(Buffer.from(kid, 'utf8'))
    const ciphertext = Buffer.concat([cipher.update(privateKeyPem, 'utf8'), cipher.final()])
    return `${ENVELOPE_PREFIX}${[iv, cipher.getAuthTag(), ciphertext].map((part) => part.toString('base64url')).join('.')}`
  }

  /** The PEM private key of a stored value (plain PEM from before encryption was turned on is accepted). */
  open (kid: string, stored: string): string {
    if (!isSealed(stored)) return stored
    if (this.#key === null) throw new KeyDecryptionError(`signing key ${kid} is encrypted: set KEYS_ENCRYPTION_KEY`)
    const [iv, tag, ciphertext] = stored.slice(ENVELOPE_PREFIX.length).split('.').map((part) => Buffer.from(part, 'base64url'))
    if (iv === undefined || tag === undefined || ciphertext === undefined) throw new KeyDecryptionError(`signing key ${kid}: malformed encrypted value`)
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.#key, iv).setAAD(Buffer.from(kid, 'utf8')).setAuthTag(tag)
      return Buffer.concat([decipher.update(ciphertext), decipher.final()]).toString('utf8')
    } catch {
      throw new KeyDecryptionError(`signing key ${kid} cannot be decrypted: KEYS_ENCRYPTION_KEY is not the key it was encrypted with`)
    }
  }
}

export function isSealed (stored: string): boolean {
  return stored.startsWith(ENVELOPE_PREFIX)
}
