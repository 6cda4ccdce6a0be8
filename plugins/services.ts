import fp from 'fastify-plugin'
import { AuthService } from '../src/auth/auth.service.js'
import { SessionsService } from '../src/auth/sessions/sessions.service.js'
import { UsersService } from '../src/users/users.service.js'

declare module 'fastify' {
  interface FastifyInstance {
    usersService: UsersService
    authService: AuthService
    sessionsService: SessionsService
  }
}

export default fp(async (app) => {
  const sessions = new SessionsService(app.db, app.config.sessions)
  app.decorate('sessionsService', sessions)
  app.decorate('usersService', new UsersService(app.db))
  app.decorate('authService', new AuthService(app.db, app.passwords, app.passwordPolicy, app.tokens, sessions, app.metrics ?? undefined))
}, { name: 'services', dependencies: ['db', 'auth', 'metrics'] })
