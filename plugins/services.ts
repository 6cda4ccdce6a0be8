import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import { AuditLog } from '../src/audit/audit-log.js'
import { LoginThrottle } from '../src/auth/login-throttle.js'
import { LocalLoginState, SharedLoginState } from '../src/rate-limit/login-state.js'
import { AdminUsersService } from '../src/admin/admin-users.service.js'
import { ClientAuthenticator } from '../src/auth/clients/client-authentication.js'
import { ClientsService } from '../src/auth/clients/clients.service.js'
import { AuthService } from '../src/auth/auth.service.js'
import { RevocationFeed } from '../src/auth/sessions/revocation-feed.js'
import { RevocationStreams } from '../src/auth/sessions/revocation-stream.js'
import { SessionsService } from '../src/auth/sessions/sessions.service.js'
import { UsersService } from '../src/users/users.service.js'

declare module 'fastify' {
  interface FastifyInstance {
    usersService: UsersService
    authService: AuthService
    sessionsService: SessionsService
    adminUsersService: AdminUsersService
    clientsService: ClientsService
    /** OAuth client authentication at the token, introspection and revocation endpoints. */
    clientAuthenticator: ClientAuthenticator
    /** The audit trail: `app.auditLog.record(event)` writes an event that goes with no change (a throttled login). */
    auditLog: AuditLog
    /** Ended sessions and disabled or deleted accounts, for resource servers (GET /auth/revocations). */
    revocationFeed: RevocationFeed
    /** The open revocation streams (GET /auth/revocations/stream): ended when the server closes. */
    revocationStreams: RevocationStreams
  }
}

export default fp(async (app) => {
  const audit = new AuditLog(app.db, app.config.audit.retentionDays, app.metrics ?? undefined)
  app.decorate('auditLog', audit)
  const sessions = new SessionsService(app.db, app.config.sessions, audit)
  app.decorate('sessionsService', sessions)
  const feed = new RevocationFeed(app.db, app.config.jwt.expireMinutes)
  app.decorate('revocationFeed', feed)
  const streams = new RevocationStreams(feed, { heartbeatMs: app.config.revocationStream.heartbeatSeconds * 1000, pollMs: STREAM_POLL_MS })
  app.decorate('revocationStreams', streams)
  app.metrics?.watchRevocationStreams(streams)
  // A stream never ends by itself before its lifetime: the server's close would wait for it.
  app.addHook('preClose', async () => { streams.finishAll() })
  app.decorate('usersService', new UsersService(app.db))
  app.decorate('clientsService', new ClientsService(app.db, audit))
  app.decorate('adminUsersService', new AdminUsersService(app.db, audit, app.passwords, app.passwordPolicy, app.config.sessions.idleDays))
  const throttle = loginThrottle(app)
  app.decorate('authService', new AuthService(app.db, app.passwords, app.passwordPolicy, app.tokens, sessions, throttle, audit, app.metrics ?? undefined))
  app.decorate('clientAuthenticator', new ClientAuthenticator(app.db, throttle))
}, { name: 'services', dependencies: ['db', 'auth', 'metrics', 'redis'] })

/** How often a revocation stream reads the feed while this instance may miss the database's notifications. */
const STREAM_POLL_MS = 1000

/** The login throttle over the shared Redis (or the process), or one that lets everything through when the limits are off. */
function loginThrottle (app: FastifyInstance): LoginThrottle {
  const limits = app.config.loginThrottle
  if (limits === null) return new LoginThrottle(null)
  const state = new SharedLoginState(app.sharedRedis, new LocalLoginState(limits), limits)
  return new LoginThrottle(state, (rule) => { app.metrics?.rateLimited.inc({ rule }) })
}
