/**
 * The catalogue of audit events: each action and the outcomes it can have. `success`: the
 * change was made; `failure`: the attempt was refused (wrong credentials, a reused refresh
 * token); `throttled`: refused before any check, by the login throttling.
 *
 * The admin API records as the signed-in admin (actor_user_id) with the request's origin.
 */
export const AUDIT_ACTIONS = {
  /**
   * An account was created: POST /auth/register, POST /admin/users (the admin is the actor),
   * `create-admin` (details.via = 'cli'), or a first sign-in through an identity provider (details.provider).
   */
  register: ['success'],
  /** A password sign-in: success (details.session_id), failure (details.reason), throttled. */
  login: ['success', 'failure', 'throttled'],
  /** A refresh token was presented again after the grace window: its session was ended. */
  refresh_token_reuse: ['failure'],
  /** POST /auth/logout (details.all: every session) and RFC 7009 POST /auth/revoke (details.via = 'revoke'). */
  logout: ['success'],
  /** DELETE /auth/sessions/{id}: one of the account's sessions ended by its owner; or every one by an admin (details.all). */
  session_revoked: ['success'],
  /** The password was changed (details.reset: set by an admin); details.sessions_ended: the sessions that ended with it. */
  password_changed: ['success'],
  /** DELETE /users/me, or DELETE /admin/users/{id}. */
  account_deleted: ['success'],
  /** PATCH /admin/users/{id} with is_active false; details.sessions_ended. */
  account_disabled: ['success'],
  account_enabled: ['success'],
  /** details.from and details.to: the roles before and after. */
  roles_changed: ['success'],
  /** client_id names the client; never its secret. */
  client_created: ['success'],
  /** details.changed: the fields (secret: a rotation), or details.deleted. */
  client_changed: ['success'],
  /**
   * A sign-in through an external identity provider reached its callback (details.provider): success
   * (a one-time code went to the front end, whose token request then starts the session with a
   * `login` event) or failure (details.reason: provider_error, provider_unavailable, refused_answer,
   * email_not_verified, no_email, account_disabled).
   */
  external_login: ['success', 'failure'],
  /** A provider identity (details.provider) was linked to the account: a new account (details.new_account), or one with the same verified email. */
  identity_linked: ['success'],
  /** A new signing key (details.kid) replaced the active ones (details.retired). */
  key_rotated: ['success']
} as const satisfies Record<string, ReadonlyArray<'success' | 'failure' | 'throttled'>>

export type AuditAction = keyof typeof AUDIT_ACTIONS
export type AuditOutcome = (typeof AUDIT_ACTIONS)[AuditAction][number]

export function isAuditAction (value: string): value is AuditAction {
  return Object.hasOwn(AUDIT_ACTIONS, value)
}

/** An action with one of its own outcomes (login/throttled type-checks, register/failure does not). */
export type AuditKind = { [A in AuditAction]: { action: A, outcome: (typeof AUDIT_ACTIONS)[A][number] } }[AuditAction]

/**
 * Where a change came from: the client of an HTTP request (its address, capped User-Agent and
 * request id), or nothing for the CLI (whose events say details.via = 'cli').
 */
export interface AuditOrigin {
  ip: string | null
  userAgent: string | null
  requestId: string | null
}

/** Facts about the event. Never a password, a token or a raw login name: see assertNoSecrets. */
export type AuditDetails = Record<string, string | number | boolean | null | string[]>

export type AuditEvent = AuditKind & {
  /** Who did it: the signed-in user; null for the anonymous (a failed login) and the CLI. */
  actorUserId: string | null
  /** The account it was done to, when there is one. */
  subjectUserId: string | null
  clientId?: string | null
  origin: AuditOrigin
  details?: AuditDetails
}

/** Who makes a change that is not a user's own (an admin through the admin API, or the CLI), and the details every event of theirs carries. */
export interface AuditSource {
  actorUserId: string | null
  origin: AuditOrigin
  details: AuditDetails
}

/** A CLI command: no user, no request; details.via = 'cli'. */
export const CLI_SOURCE: AuditSource = { actorUserId: null, origin: { ip: null, userAgent: null, requestId: null }, details: { via: 'cli' } }

/** The event of `kind` that `source` causes to the account `subjectUserId` (or to none). */
export function eventBy (source: AuditSource, kind: AuditKind, subjectUserId: string | null, details: AuditDetails = {}): AuditEvent {
  return { ...kind, actorUserId: source.actorUserId, subjectUserId, origin: source.origin, details: { ...source.details, ...details } }
}

/** Detail keys that could only hold a secret: a programming error, refused before it is stored. */
const SECRET_KEY = /password|secret|token|credential/i

export function assertNoSecrets (details: AuditDetails): void {
  const key = Object.keys(details).find((name) => SECRET_KEY.test(name))
  if (key !== undefined) throw new Error(`audit details must not hold secrets (key "${key}")`)
}

/** Where written events are counted (the metrics), if anywhere. */
export interface AuditObserver {
  auditWritten: (action: AuditAction, outcome: AuditOutcome) => void
}
