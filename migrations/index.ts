import type { Migration } from 'kysely'
import * as createUsers from './20261122000100_create_users.js'
import * as createSigningKeys from './20261122000200_create_signing_keys.js'
import * as createSessions from './20261122000300_create_sessions.js'
import * as signingKeyRotation from './20261122000400_signing_key_rotation.js'
import * as createOAuthClients from './20261202000200_create_oauth_clients.js'
import * as createAuditEvents from './20261202000500_create_audit_events.js'
import * as createOidc from './20261203000100_create_oidc.js'
import * as createRevocations from './20261203000200_create_revocations.js'
import * as notifySessionState from './20261203000300_notify_session_state.js'

/**
 * Every migration, by name. Names sort in the order they run; a new migration gets a later
 * timestamp and a line here.
 */
export const migrations: Record<string, Migration> = {
  '20261122000100_create_users': createUsers,
  '20261122000200_create_signing_keys': createSigningKeys,
  '20261122000300_create_sessions': createSessions,
  '20261122000400_signing_key_rotation': signingKeyRotation,
  '20261202000200_create_oauth_clients': createOAuthClients,
  '20261202000500_create_audit_events': createAuditEvents,
  '20261203000100_create_oidc': createOidc,
  '20261203000200_create_revocations': createRevocations,
  '20261203000300_notify_session_state': notifySessionState
}
