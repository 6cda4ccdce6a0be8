import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import type { Test } from 'tap'
import { cli } from '../cli/in-process.js'
import { childEnv } from '../helper.js'
import { listeningUrl } from '../server-process.js'

/** user-service and examples/orders-service as real processes on loopback, for the end-to-end tests. */

/** A running process: its URL and all it has written. */
export interface Service { child: ChildProcess, url: string, output: () => string }

export async function start (t: Test, script: string, env: Record<string, string>): Promise<Service> {
  const child = spawn(process.execPath, ['--import', 'tsx', script], { env: childEnv({ LOG_LEVEL: 'info', ...env }), stdio: ['ignore', 'pipe', 'pipe'] })
  t.teardown(() => { child.kill('SIGKILL') })
  let output = ''
  const collect = (chunk: Buffer): void => { output += chunk.toString() }
  child.stdout?.on('data', collect)
  child.stderr?.on('data', collect)
  return { child, url: await listeningUrl(child, () => output), output: () => output }
}

/**
 * Resolves once the service has written a line matching `pattern` (it may already have;
 * `since`: past that many characters of its output); rejects when it exits first or after
 * `deadlineMs` (a stuck test, not a measurement).
 */
export async function logged (service: Service, pattern: RegExp, since = 0, deadlineMs = 60_000): Promise<string> {
  const output = (): string => service.output().slice(since)
  return new Promise<string>((resolve, reject) => {
    const done = (error?: Error): void => {
      clearTimeout(timer)
      service.child.stdout?.off('data', look)
      service.child.stderr?.off('data', look)
      service.child.off('exit', exited)
      if (error === undefined) resolve(pattern.exec(output())?.[0] ?? '')
      else reject(error)
    }
    const look = (): void => { if (pattern.test(output())) done() }
    const exited = (): void => { done(new Error(`exited before logging ${String(pattern)}:\n${service.output()}`)) }
    const timer = setTimeout(() => { done(new Error(`never logged ${String(pattern)}:\n${service.output()}`)) }, deadlineMs)
    service.child.stdout?.on('data', look)
    service.child.stderr?.on('data', look)
    service.child.on('exit', exited)
    look()
  })
}

export async function stop (service: Service): Promise<void> {
  const exited = once(service.child, 'exit')
  service.child.kill('SIGTERM')
  await exited
}
export async function token (url: string, credentials: { username: string, password: string }): Promise<string> {
  const response = await fetch(`${url}/api/v1/auth/token`, { method: 'POST', body: new URLSearchParams({ grant_type: 'password', ...credentials }) })
  return (await response.json() as { access_token: string }).access_token
}

export async function orders (url: string, accessToken: string): Promise<Response> {
  return fetch(`${url}/orders`, { headers: { authorization: `Bearer ${accessToken}` } })
}

export async function postJson (url: string, body: object, accessToken?: string): Promise<Response> {
  const headers: Record<string, string> = { 'content-type': 'application/json', ...(accessToken === undefined ? {} : { authorization: `Bearer ${accessToken}` }) }
  return fetch(url, { method: 'POST', headers, body: JSON.stringify(body) })
}

export async function placeOrder (shopUrl: string, accessToken: string): Promise<Response> {
  return postJson(`${shopUrl}/orders`, { item: 'teapot' }, accessToken)
}

/** Registers an account through the API: its id and its first access token (with a session). */
export async function register (url: string, username: string): Promise<{ id: string, token: string }> {
  const response = await postJson(`${url}/api/v1/auth/register`, { username, email: `${username}@example.com`, password: 'correct horse battery' })
  if (response.status !== 201) throw new Error(`register ${username}: ${response.status} ${await response.text()}`)
  const { user, access_token: token } = await response.json() as { user: { id: string }, access_token: string }
  return { id: user.id, token }
}

/** The README's setup, by the CLI: an admin, and orders-service's confidential client with its secret (printed once). */
export async function setUpByCli (env: Record<string, string>, admin: { username: string, password: string }, scopes: string[] = []): Promise<{ id: string, secret: string }> {
  const created = await cli(['create-admin', '--email', `${admin.username}@example.com`, '--username', admin.username], { ...env, ADMIN_PASSWORD: admin.password })
  if (created.code !== 0) throw new Error(`create-admin exited ${created.code}: ${created.stderr}`)
  const scopeArgs = scopes.flatMap((scope) => ['--scope', scope])
  const client = await cli(['clients', 'create', '--name', 'orders-service', '--type', 'confidential', '--grant', 'client_credentials', ...scopeArgs], env)
  if (client.code !== 0) throw new Error(`clients create exited ${client.code}: ${client.stderr}`)
  const id = /^(\S+)\torders-service\tconfidential\t/m.exec(client.stdout)?.[1]
  const secret = /^client_secret=(\S+)$/m.exec(client.stdout)?.[1]
  if (id === undefined || secret === undefined) throw new Error(`clients create printed no client:\n${client.stdout}`)
  return { id, secret }
}
