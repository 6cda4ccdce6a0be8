import type { IncomingMessage } from 'node:http'
import { ClientCredentials, ResourceOwnerPassword, type ModuleOptions } from 'simple-oauth2'
import t from 'tap'
import { asAdmin, registerAdmin } from '../admin/helpers.js'
import { buildApp, registerAccount } from '../helper.js'

/**
 * simple-oauth2 5, a widely used Node.js OAuth client, with its defaults against a real
 * listener (DESIGN "OAuth clients": real client libraries work as they come). Its defaults:
 * client authentication in `Authorization: Basic` (authorizationMethod 'header'), both halves
 * form-encoded (credentialsEncodingMode 'strict'), a form body. A public client configured
 * with an id only still sends Basic, with the secret `undefined` in it.
 */
const { app } = await buildApp(t)
await app.listen({ port: 0, host: '127.0.0.1' })
const { port } = app.server.address() as { port: number }
const auth = { tokenHost: `http://127.0.0.1:${port}`, tokenPath: '/api/v1/auth/token' }

/** The Authorization headers of the token requests the server received, decoded. */
const basicPairs: string[] = []
app.server.on('request', (request: IncomingMessage) => {
  const header = request.headers.authorization ?? ''
  if (request.url === auth.tokenPath && header.startsWith('Basic ')) basicPairs.push(Buffer.from(header.slice(6), 'base64').toString('utf8'))
})

async function me (accessToken: string): Promise<Response> {
  return fetch(`${auth.tokenHost}/api/v1/users/me`, { headers: { authorization: `Bearer ${accessToken}` } })
}

/** What simple-oauth2 throws on an error answer: a Boom error holding the response. */
interface ResponseError { output: { statusCode: number }, data: { payload: unknown, headers: Record<string, string> } }

// `id`: 'public' is the default public client's id (PUBLIC_CLIENT_ID, the `client_id` of its
// tokens); any id that is not a registered client's lands on that client too.
for (const id of ['public', 'my-front-end']) {
  t.test(`ResourceOwnerPassword with client {id: '${id}'} and no secret: a token that works, and refreshes`, async (t) => {
    const account = await registerAccount(app)
    basicPairs.length = 0
    // The typings want a secret; the library does not (its schema makes it optional), and leaving it out is the point.
    const client = new ResourceOwnerPassword({ client: { id } as ModuleOptions['client'], auth })
    const accessToken = await client.getToken({ username: account.username, password: account.password })
    t.same(basicPairs, [`${id}:undefined`], 'its default: Basic, with the secret "undefined"')
    const response = await me(accessToken.token.access_token as string)
    t.equal(response.status, 200)
    t.match(await response.json(), { id: account.id, username: account.username })

    const refreshed = await accessToken.refresh()
    t.not(refreshed.token.access_token, accessToken.token.access_token)
    t.equal((await me(refreshed.token.access_token as string)).status, 200, 'refresh_token grant, same defaults')
  })
}

t.test('ClientCredentials with a confidential client, then with a wrong secret', async (t) => {
  const admin = await registerAdmin(app)
  const created = await asAdmin(app, admin, {
    method: 'POST', url: '/clients', payload: { name: 'reports-job', type: 'confidential', grant_types: ['client_credentials'], audience: 'reports' }
  })
  t.equal(created.statusCode, 201)
  const registered = created.json<{ client_id: string, client_secret: string }>()

  const accessToken = await new ClientCredentials({ client: { id: registered.client_id, secret: registered.client_secret }, auth }).getToken({})
  t.match(accessToken.token, { token_type: 'bearer', expires_in: Number, access_token: String })
  t.notOk('refresh_token' in accessToken.token, 'no refresh token (RFC 6749 §4.4.3)')
  const claims = JSON.parse(Buffer.from((accessToken.token.access_token as string).split('.')[1] ?? '', 'base64url').toString('utf8')) as object
  t.match(claims, { sub: registered.client_id, client_id: registered.client_id, aud: 'reports' })

  const wrong = new ClientCredentials({ client: { id: registered.client_id, secret: `${registered.client_secret}x` }, auth })
  const error = await wrong.getToken({}).then(() => undefined, (error: unknown) => error as ResponseError)
  t.ok(error, 'the library throws')
  t.equal(error?.output.statusCode, 401)
  t.match(error?.data.payload, { error: 'invalid_client' })
  t.match(error?.data.headers['www-authenticate'], /^Basic /, 'with a Basic challenge')
})
