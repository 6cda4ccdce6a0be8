import fp from 'fastify-plugin'

/**
 * Prunes ended sessions, revocation-feed entries older than any token, finished or abandoned identity-provider sign-ins, and audit events older than AUDIT_RETENTION_DAYS, every
 * SESSION_PRUNE_INTERVAL_MINUTES. Several instances may run this: each prune takes a
 * transaction-scoped advisory lock and an instance that finds it taken skips.
 */
export default fp(async (app) => {
  const minutes = app.config.sessions.pruneIntervalMinutes
  if (minutes === 0) return
  const prune = async (): Promise<void> => {
    try {
      const result = await app.sessionsService.prune()
      if (result !== null && result.sessions > 0) {
        app.log.info({ event: 'sessions_pruned', ...result }, 'pruned ended sessions')
      }
      const revocations = await app.revocationFeed.prune()
      if (revocations > 0) app.log.info({ event: 'revocations_pruned', revocations }, 'pruned revocation-feed entries older than any access token')
      const flows = await app.oidc.pruneFlows()
      if (flows > 0) app.log.info({ event: 'oidc_flows_pruned', oidc_flows: flows }, 'pruned finished sign-ins through identity providers')
      const events = await app.auditLog.prune()
      if (events !== null && events > 0) {
        app.log.info({ event: 'audit_events_pruned', audit_events: events }, 'pruned old audit events')
      }
    } catch (error) {
      app.log.warn({ err: error }, 'pruning sessions failed; will try again')
    }
  }
  let timer: NodeJS.Timeout | undefined
  app.addHook('onReady', async () => {
    timer = setInterval(() => { void prune() }, Math.max(100, Math.round(minutes * 60_000)))
    timer.unref()
  })
  app.addHook('onClose', async () => { clearInterval(timer) })
}, { name: 'sessions-prune', dependencies: ['services', 'oidc'] })
