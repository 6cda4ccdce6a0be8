import { dictionary } from '@zxcvbn-ts/language-common'
import { validationFailed } from '../errors.js'
import { PASSWORD_MAX_LENGTH, PASSWORD_MIN_LENGTH_FLOOR } from '../schemas/common.js'
import { normalizeEmail } from '../users/users.service.js'

/** The account a new password is for: its own names make poor passwords. */
export interface PasswordOwner {
  email: string
  username: string
}

/**
 * Names shorter than this are not looked for: a one-letter email local part ("a@…") would
 * otherwise refuse every password holding that letter (and no password of 8 or more characters
 * can equal one). Usernames are never shorter.
 */
const MIN_CONTAINED_NAME_LENGTH = 3

/**
 * zxcvbn-ts's common-password list (about 49,000, most frequent first), lower-cased, built once
 * when this module loads (about 10 ms; the package decompresses its list on import, about
 * 20 ms). Entries shorter than the length floor are left out: the length rule refuses them
 * before the list is asked, so they would only take memory. About 18,000 remain.
 */
const commonPasswords: ReadonlySet<string> = new Set(
  dictionary['passwords-common']
    .filter((password) => password.length >= PASSWORD_MIN_LENGTH_FLOOR)
    .map((password) => password.toLowerCase())
)

/**
 * Which new passwords are acceptable (OWASP ASVS 6.2, NIST SP 800-63B §3.1.1.2): a length,
 * not a common password, not the account's own names. No composition rules. Every way a
 * password is set calls `check` before hashing (registration, password change, create-admin,
 * and an admin setting one); signing in never does, so a stricter policy locks nobody out.
 */
export class PasswordPolicy {
  constructor (private readonly minLength = PASSWORD_MIN_LENGTH_FLOOR) {}

  /**
   * Why `password` is refused for `owner`, or null. Judged in Unicode NFKC, the form that is
   * hashed (so "ｐａｓｓｗｏｒｄ" in full-width letters is "password"), and without regard to case.
   */
  refusal (password: string, owner: PasswordOwner): string | null {
    const normalized = password.normalize('NFKC')
    // Code points, as the request schemas count them: an emoji is one character.
    const length = [...normalized].length
    if (length < this.minLength) return `must be at least ${this.minLength} characters`
    if (length > PASSWORD_MAX_LENGTH) return `must be at most ${PASSWORD_MAX_LENGTH} characters`
    const folded = normalized.toLowerCase()
    if (commonPasswords.has(folded)) return 'is one of the most common passwords; choose one that is harder to guess'
    if (containsName(folded, owner.username)) return 'must not contain the username'
    if (containsName(folded, localPart(owner.email))) return 'must not contain the email address or the part before its @'
    return null
  }

  /** Throws 400 validation_failed naming the field at `path` (a JSON Pointer) when `password` is refused. */
  check (password: string, owner: PasswordOwner, path = '/password'): void {
    const refusal = this.refusal(password, owner)
    if (refusal !== null) throw validationFailed([{ path, message: refusal }])
  }
}

function containsName (folded: string, name: string): boolean {
  const foldedName = name.normalize('NFKC').toLowerCase()
  return [...foldedName].length >= MIN_CONTAINED_NAME_LENGTH && folded.includes(foldedName)
}

/** The part of the (already validated) address before its @. */
function localPart (email: string): string {
  return normalizeEmail(email).split('@')[0] ?? ''
}
