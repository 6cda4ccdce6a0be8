import fp from 'fastify-plugin'
import { OidcService } from '../src/auth/oidc/oidc.service.js'
import { OidcProvider } from '../src/auth/oidc/provider.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** Sign-in through the external identity providers of OIDC_PROVIDERS (none configured: an empty list). */
    oidc: OidcService
  }
}

/** The identity providers, each with its own breaker, and the sign-in flows through them. */
export default fp(async (app) => {
  const settings = app.config.oidc
  const log = app.log.child({ component: 'oidc' })
  const providers = settings.providers.map((provider) => new OidcProvider(provider, {
    timeoutMs: settings.timeoutMs,
    breakerResetMs: settings.breakerResetMs,
    allowHttp: app.config.env === 'development',
    log
  }))
  app.decorate('oidc', new OidcService(app.db, providers, { redirectAllowlist: settings.redirectAllowlist, publicUrl: app.config.publicUrl }, app.auditLog, log))
  app.metrics?.watchIdentityProviders(providers)
  app.addHook('onClose', async () => {
    for (const provider of providers) provider.shutdown()
  })
}, { name: 'oidc', dependencies: ['config', 'db', 'metrics', 'services'] })
