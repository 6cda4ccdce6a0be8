import type { ColumnType, Generated, Insertable, Kysely, Selectable, Transaction, Updateable } from 'kysely'

type Timestamp = ColumnType<Date, Date | string | undefined, Date | string>
/** A moment that may not have happened yet (retired, revoked, rotated...): null until it does. */
type NullableTimestamp = ColumnType<Date | null, Date | string | null | undefined, Date | string | null>

export interface UsersTable {
  id: string
  email: string
  username: string
  hashed_password: string | null
  full_name: string | null
  is_active: Generated<boolean>
  roles: ColumnType<string[], string[] | undefined, string[]>
  password_changed_at: NullableTimestamp
  created_at: Timestamp
  updated_at: Timestamp
}

export type UserRow = Selectable<UsersTable>
export type NewUserRow = Insertable<UsersTable>
export type UserUpdate = Updateable<UsersTable>

export interface SigningKeysTable {
  kid: string
  algorithm: string
  public_key: string
  private_key: string
  created_at: Timestamp
  retired_at: NullableTimestamp
  /** `active` (the newest active key signs) or `retired` (verifies and is published until `not_after`). */
  status: ColumnType<'active' | 'retired', 'active' | 'retired' | undefined, 'active' | 'retired'>
  activated_at: Timestamp
  not_after: NullableTimestamp
}

export type SigningKeyRow = Selectable<SigningKeysTable>
export type NewSigningKeyRow = Insertable<SigningKeysTable>

export interface SessionsTable {
  id: string
  user_id: string
  created_at: Timestamp
  last_used_at: Timestamp
  expires_at: ColumnType<Date, Date | string, Date | string>
  user_agent: string | null
  ip: string | null
  revoked_at: NullableTimestamp
  revoked_reason: string | null
}

export type SessionRow = Selectable<SessionsTable>

export interface RefreshTokensTable {
  token_hash: string
  session_id: string
  created_at: Timestamp
  rotated_at: NullableTimestamp
}

export interface OAuthClientsTable {
  client_id: string
  name: string
  type: 'public' | 'confidential'
  secret_hash: string | null
  grant_types: ColumnType<string[], string[], string[]>
  audience: string | null
  scopes: ColumnType<string[], string[] | undefined, string[]>
  disabled: Generated<boolean>
  created_at: Timestamp
  updated_at: Timestamp
  secret_rotated_at: NullableTimestamp
}

export type OAuthClientRow = Selectable<OAuthClientsTable>
export type OAuthClientUpdate = Updateable<OAuthClientsTable>

/** One audit event (see src/audit/events.ts for the actions and their outcomes). */
export interface AuditEventsTable {
  id: Generated<string>
  at: Timestamp
  action: string
  outcome: string
  actor_user_id: string | null
  subject_user_id: string | null
  client_id: string | null
  ip: string | null
  user_agent: string | null
  request_id: string | null
  details: ColumnType<Record<string, unknown>, string | undefined, string>
}

export type AuditEventRow = Selectable<AuditEventsTable>
export type NewAuditEventRow = Insertable<AuditEventsTable>

/** An account's identity at an external OpenID provider. */
export interface UserIdentitiesTable {
  id: string
  provider: string
  subject: string
  user_id: string
  email: string | null
  created_at: Timestamp
  last_login_at: Timestamp
}

export type UserIdentityRow = Selectable<UserIdentitiesTable>

/** A sign-in through an external provider, from /authorize to the token endpoint. */
export interface OidcFlowsTable {
  id: string
  provider: string
  state_hash: string
  nonce: string
  code_verifier: string
  redirect_uri: string
  client_state: string | null
  code_challenge: string
  created_at: Timestamp
  expires_at: ColumnType<Date, Date | string, Date | string>
  consumed_at: NullableTimestamp
  code_hash: string | null
  user_id: string | null
  code_expires_at: NullableTimestamp
  code_used_at: NullableTimestamp
}

export type OidcFlowRow = Selectable<OidcFlowsTable>
export type NewOidcFlowRow = Insertable<OidcFlowsTable>

/** One entry of the revocation feed: a session ended (sid), or a whole account (sid null). Written by triggers. */
export interface RevocationsTable {
  id: ColumnType<string, never, never>
  sid: string | null
  sub: string
  revoked_at: ColumnType<Date, never, never>
}

export interface Database {
  users: UsersTable
  signing_keys: SigningKeysTable
  sessions: SessionsTable
  refresh_tokens: RefreshTokensTable
  oauth_clients: OAuthClientsTable
  audit_events: AuditEventsTable
  user_identities: UserIdentitiesTable
  oidc_flows: OidcFlowsTable
  revocations: RevocationsTable
}

/** The database itself or an open transaction: repositories work with either. */
export type Executor = Kysely<Database> | Transaction<Database>
