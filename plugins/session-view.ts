import { randomBytes } from 'node:crypto'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { NotificationBarrier } from '../src/auth/sessions/notification-barrier.js'
import { SessionView } from '../src/auth/sessions/session-view.js'
import { notify, type NotificationListener } from '../src/db/notifications.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** Users and live sessions in memory, fed by the database's notifications: what `authenticate` asks. */
    sessionView: SessionView
  }
}

/** Channels the triggers notify (migrations 20261203000200 and 20261203000300). */
const REVOCATIONS = 'revocations'
const USER_CHANGES = 'user_changes'

/** How long a write's answer waits for the listener to catch up before the view stops trusting it. */
const BARRIER_TIMEOUT_MS = 2000

/** Answers after which nothing was written: no need to wait for the listener. */
const UNCHANGED_STATUSES = new Set([401, 403, 404, 405, 413, 415, 429, 503])
const READ_METHODS = new Set(['GET', 'HEAD', 'OPTIONS'])

/**
 * One LISTEN connection per instance (DESIGN "Revocation feed and the session cache"): it feeds
 * the session view, wakes the revocation feed's stream readers, and after a write makes the
 * answer wait until this instance's own view has seen it (read-your-writes).
 */
export default fp(async (app) => {
  const ownChannel = `user_service_sync_${randomBytes(8).toString('hex')}`
  const barrier = new NotificationBarrier(async (token) => notify(app.db, ownChannel, token), BARRIER_TIMEOUT_MS)
  const view = new SessionView(async (userId, sessionId) => app.sessionsService.userWithSession(userId, sessionId), {
    maxEntries: app.config.sessionCache.maxEntries,
    observe: (source) => { app.metrics?.sessionLookup(source) },
    catchUp: async () => listener.deliversAtCommit || await barrier.pass()
  })
  app.decorate('sessionView', view)
  app.metrics?.watchSessionView(view)

  let wasConnected = false
  const listener: NotificationListener = app.openNotificationListener([REVOCATIONS, USER_CHANGES, ownChannel], {
    notification: (channel, payload) => {
      if (channel === ownChannel) barrier.arrived(payload)
      else if (channel === USER_CHANGES) view.userChanged(payload)
      else if (channel === REVOCATIONS) revocationArrived(app, payload)
    },
    connected: () => {
      view.connect()
      app.revocationFeed.setLive(true)
      if (wasConnected) app.log.info({ event: 'session_view_connected' }, 'listening to the database\'s notifications again: answering protected requests from memory')
      wasConnected = true
    },
    disconnected: (reason) => {
      view.disconnect()
      barrier.releaseAll()
      app.revocationFeed.setLive(false)
      app.log.warn({ event: 'session_view_disconnected', reason }, 'lost the database notification listener: every protected request reads the database until it is back')
    }
  })
  app.addHook('onReady', async () => listener.start())
  app.addHook('onClose', async () => listener.close())

  if (!listener.deliversAtCommit) {
    app.addHook('onSend', (request: FastifyRequest, reply: FastifyReply, payload: unknown, done: (error: Error | null, payload: unknown) => void) => {
      if (READ_METHODS.has(request.method) || UNCHANGED_STATUSES.has(reply.statusCode)) return done(null, payload)
      view.catchUp().then((caughtUp) => {
        if (!caughtUp) listener.reconnect('the listener did not receive this instance\'s own notification in time')
        done(null, payload)
      }, (error: Error) => { done(error, payload) })
    })
  }
}, { name: 'session-view', dependencies: ['db', 'metrics', 'services'] })

/** `{"id":"…","sub":"…","sid":"…"|null}`: drop it from the view, wake the feed's readers. */
function revocationArrived (app: FastifyInstance, payload: string): void {
  let entry: { sub?: unknown, sid?: unknown }
  try {
    entry = JSON.parse(payload) as { sub?: unknown, sid?: unknown }
  } catch {
    entry = {}
  }
  if (typeof entry.sub === 'string' && (typeof entry.sid === 'string' || entry.sid === null)) {
    app.sessionView.revoked(entry.sub, entry.sid)
  } else {
    // Not the shape the trigger sends: nothing can be trusted about what it named.
    app.log.warn({ event: 'session_view_bad_notification' }, 'a revocation notification of an unknown shape: forgetting every kept session')
    app.sessionView.forgetAll()
  }
  app.revocationFeed.announce()
}
