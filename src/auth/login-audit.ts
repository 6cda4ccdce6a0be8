import { eventBy, type AuditEvent } from '../audit/events.js'
import type { UserRow } from '../db/types.js'
import type { LoginRule } from '../rate-limit/login-state.js'
import { clientSource, type ClientContext } from './sessions/sessions.service.js'

/** Why a password sign-in was refused, as its audit event says. */
export type LoginFailureReason = 'unknown_login' | 'wrong_password' | 'account_disabled'

/**
 * The audit event of a refused sign-in. It names the account when one has the login
 * (subject_user_id) and never the login as typed: people type their password into the login
 * field, and an unknown login is exactly where such a slip would end up in the table. What
 * is kept instead is whether the account exists (the reason).
 */
export function loginFailed (user: UserRow | undefined, passwordOk: boolean, context: ClientContext): AuditEvent {
  const reason: LoginFailureReason = user === undefined ? 'unknown_login' : passwordOk ? 'account_disabled' : 'wrong_password'
  return eventBy(clientSource(null, context), { action: 'login', outcome: 'failure' }, user?.id ?? null, { reason })
}

/**
 * The audit event of a sign-in refused by the login throttling, before any lookup: so no
 * account, and no login either (see loginFailed); which rule refused it and how long the client was told to wait.
 */
export function loginThrottled (context: ClientContext, rule: LoginRule, retryAfterSeconds: number): AuditEvent {
  return eventBy(clientSource(null, context), { action: 'login', outcome: 'throttled' }, null, { rule, retry_after_seconds: retryAfterSeconds })
}
