import { createHash, randomBytes, timingSafeEqual } from 'node:crypto'

/** A confidential client's secret: 256 random bits. Shown once; only its hash is stored. */
export function newClientSecret (): string {
  return randomBytes(32).toString('base64url')
}

/**
 * SHA-256 of the secret. A slow hash (argon2) would protect guessable passwords; a 256-bit
 * random secret cannot be guessed from its digest, and every token request checks it.
 */
export function hashClientSecret (secret: string): string {
  return createHash('sha256').update(secret, 'utf8').digest('base64url')
}

/** Whether `secret` is the one `storedHash` was made from, compared in constant time. */
export function clientSecretMatches (secret: string, storedHash: string): boolean {
  const given = Buffer.from(hashClientSecret(secret))
  const stored = Buffer.from(storedHash)
  return given.length === stored.length && timingSafeEqual(given, stored)
}
