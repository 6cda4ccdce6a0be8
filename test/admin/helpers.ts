import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify'
import { bearer, registerAccount, type Account } from '../helper.js'

/** Registers an account and makes it an admin (as the CLI's create-admin would); a fresh token carries the role. */
export async function registerAdmin (app: FastifyInstance): Promise<Account> {
  const account = await registerAccount(app)
  await app.db.updateTable('users').set({ roles: ['user', 'admin'] }).where('id', '=', account.id).execute()
  // The change reaches the session view as a notification, as another instance's would.
  await app.sessionView.catchUp()
  return account
}

/** A request of `admin` to the admin API. */
export function asAdmin (app: FastifyInstance, admin: Account, request: InjectOptions & { url: string }): Promise<LightMyRequestResponse> {
  return app.inject({ ...request, url: `/api/v1/admin${request.url}`, headers: { ...bearer(admin.accessToken), ...request.headers } })
}
