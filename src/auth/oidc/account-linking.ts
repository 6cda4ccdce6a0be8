import { randomInt } from 'node:crypto'
import { sql } from 'kysely'
import type { AuditLog } from '../../audit/audit-log.js'
import { eventBy, type AuditSource } from '../../audit/events.js'
import { uniqueViolationConstraint } from '../../db/errors.js'
import type { Executor, UserRow } from '../../db/types.js'
import { Email } from '../../schemas/common.js'
import { findUserById, insertUser } from '../../users/users.repository.js'
import { newUserRow, normalizeEmail } from '../../users/users.service.js'
import { findIdentity, insertIdentity, touchIdentity } from './oidc.repository.js'
import type { VerifiedIdentity } from './provider.js'

const EMAIL = new RegExp(Email.pattern ?? '', 'u')
const FULL_NAME_MAX = 200

/** Why a provider identity may not sign in; the message goes back to the front end as error_description. */
export class LinkRefused extends Error {
  constructor (readonly reason: 'email_not_verified' | 'no_email' | 'account_disabled' | 'invalid_identity', message: string) {
    super(message)
  }
}

/**
 * The account a verified provider identity signs in to (DESIGN "External identity providers"):
 * the one it is linked to; else, a new account without a password, unless its email belongs to
 * an account already, which it joins only when the provider says the email is verified (as
 * GoTrue and better-auth do: an unverified address proves nothing about who holds it).
 */
export class AccountLinking {
  constructor (private readonly audit: AuditLog) {}

  async accountFor (provider: string, identity: VerifiedIdentity, source: AuditSource): Promise<UserRow> {
    // What the columns can hold: a signed token can still carry a NUL byte or a 10 KB subject.
    if (identity.subject.length > 255 || /\p{C}/u.test(identity.subject)) {
      throw new LinkRefused('invalid_identity', 'the identity provider sent a subject this service cannot store')
    }
    if (identity.email !== null && (identity.email.length > 320 || !EMAIL.test(identity.email))) {
      throw new LinkRefused('no_email', 'the identity provider shared an email address this service cannot use')
    }
    try {
      return await this.#link(provider, identity, source)
    } catch (error) {
      // Two first sign-ins of one identity at once: the loser finds what the winner linked.
      if (uniqueViolationConstraint(error) === null) throw error
      return await this.#link(provider, identity, source)
    }
  }

  async #link (provider: string, identity: VerifiedIdentity, source: AuditSource): Promise<UserRow> {
    return this.audit.transaction(async (trx, record) => {
      const linked = await findIdentity(trx, provider, identity.subject)
      if (linked !== undefined) {
        const user = await findUserById(trx, linked.user_id)
        if (user === undefined) throw new Error('a user_identities row outlived its user') // the foreign key cascades: cannot happen
        activeOrRefuse(user)
        await touchIdentity(trx, linked.id)
        return user
      }
      if (identity.email === null) {
        throw new LinkRefused('no_email', 'the identity provider did not share an email address; allow the email scope for this application')
      }
      const email = normalizeEmail(identity.email)
      const owner = await trx.selectFrom('users').selectAll().where('email', '=', email).executeTakeFirst()
      if (owner !== undefined && !identity.emailVerified) {
        throw new LinkRefused('email_not_verified', 'an account with this email exists, and the identity provider does not say the email is verified; ' +
          'sign in with the password of that account, or verify the email at the provider first')
      }
      if (owner !== undefined) activeOrRefuse(owner)
      const user = owner ?? await insertUser(trx, newUserRow({ email, username: await freeUsername(trx, identity, email), full_name: identity.name?.replace(/\p{C}/gu, '').slice(0, FULL_NAME_MAX) ?? null }, null))
      await insertIdentity(trx, { provider, subject: identity.subject, userId: user.id, email })
      const details = { provider, new_account: owner === undefined, email_verified: identity.emailVerified }
      if (owner === undefined) await record(eventBy(source, { action: 'register', outcome: 'success' }, user.id, { provider }))
      await record(eventBy(source, { action: 'identity_linked', outcome: 'success' }, user.id, details))
      return user
    })
  }
}

function activeOrRefuse (user: UserRow): void {
  if (!user.is_active) throw new LinkRefused('account_disabled', 'this account is disabled')
}

const USERNAME_MAX = 32

/**
 * A username for a new account: the provider's preferred_username or the email's local part,
 * cut to the allowed characters, with a number added while it is taken.
 */
async function freeUsername (db: Executor, identity: VerifiedIdentity, email: string): Promise<string> {
  const wanted = (identity.preferredUsername ?? email.slice(0, email.indexOf('@'))).replace(/[^A-Za-z0-9_.-]+/g, '').slice(0, USERNAME_MAX - 5)
  const base = wanted.length >= 3 ? wanted : `user${wanted}`
  for (let attempt = 0; attempt < 10; attempt++) {
    const candidate = attempt === 0 ? base : `${base}-${randomInt(1000, 10000)}`
    const taken = await db.selectFrom('users').select('id').where(sql<string>`lower(username)`, '=', candidate.toLowerCase()).executeTakeFirst()
    if (taken === undefined) return candidate
  }
  return `${base}-${Date.now().toString(36)}`.slice(0, USERNAME_MAX)
}
