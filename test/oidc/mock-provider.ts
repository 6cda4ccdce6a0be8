import { createHash, randomBytes, timingSafeEqual } from 'node:crypto'
import { EventEmitter, once } from 'node:events'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { Socket } from 'node:net'
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose'

export interface MockIdentity { sub: string, email?: string, email_verified?: boolean, name?: string, preferred_username?: string }
/** Defects of the ID token the token endpoint returns (each must make a correct relying party refuse it). */
export type IdTokenDefect = 'bad_signature' | 'wrong_nonce' | 'wrong_audience' | 'wrong_issuer' | 'expired' | 'missing'
export interface MockProviderOptions { clientId?: string, clientSecret?: string, port?: number }

export interface MockProvider {
  /** `http://127.0.0.1:<port>`, exactly as in discovery's `issuer`. */
  readonly issuer: string
  /** Default 'user-service-test'. */
  readonly clientId: string
  /** Default a random 32-byte base64url. */
  readonly clientSecret: string
  /** Who the next authorization signs in as (consent is automatic, no UI). */
  identity: MockIdentity
  /** null: a correct ID token. */
  idTokenDefect: IdTokenDefect | null
  /** The next /authorize redirects back with error=access_denied (then resets to false). */
  denyNext: boolean
  /** 'METHOD /path' of every request, recorded on arrival (held ones too), to see what was (not) fetched. */
  readonly requests: string[]
  /** Paths that answer 503 (one endpoint down while the others answer). */
  readonly failing: Set<string>
  /** Stops listening and destroys open sockets (connections are refused: "provider down"); the port is kept. */
  down (): Promise<void>
  /** Listens again on the same port. */
  up (): Promise<void>
  /** Holds every request without an answer until `release()` (close() cuts them): a slow provider, with no timers. */
  hang (): void
  release (): void
  /** 'METHOD /path' of the next request to arrive (held or not): waits for it without a timer. */
  nextRequest (): Promise<string>
  /** Follows an authorization URL as a browser would: the Location it redirects to; throws unless 302. */
  authorize (authorizationUrl: string): Promise<URL>
  close (): Promise<void>
}

interface PendingCode { identity: MockIdentity, nonce: string, redirectUri: string, challenge: string }

/**
 * A small OpenID provider on loopback for the tests (oauth2-mock-server needs Node 22): discovery,
 * JWKS, authorize (consents at once), token (client_secret_basic or _post, single-use codes,
 * PKCE S256), userinfo, and switches for the failures a relying party must survive.
 */
export async function startMockProvider (options: MockProviderOptions = {}): Promise<MockProvider> {
  const kid = randomBytes(8).toString('hex')
  const signing = await generateKeyPair('RS256')
  const forger = await generateKeyPair('RS256')
  const jwk: JWK = { ...await exportJWK(signing.publicKey), kid, alg: 'RS256', use: 'sig' }
  const codes = new Map<string, PendingCode>()
  const accessTokens = new Map<string, MockIdentity>()
  const sockets = new Set<Socket>()
  const held: Array<() => void> = []
  const arrivals = new EventEmitter()
  let hung = false

  const server = createServer((request, response) => {
    const key = `${request.method ?? 'GET'} ${new URL(request.url ?? '/', 'http://mock').pathname}`
    provider.requests.push(key)
    arrivals.emit('request', key)
    // No keep-alive: undici would send the next request on a pooled socket that down() cut, and
    // fail with UND_ERR_SOCKET "other side closed" instead of the ECONNREFUSED of a provider that is down.
    response.setHeader('connection', 'close')
    const handle = (): void => { route(request, response).catch((error: unknown) => { send(response, 500, { error: 'server_error', error_description: String(error) }) }) }
    if (hung) held.push(handle)
    else handle()
  })
  server.on('connection', (socket) => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
  })
  server.listen(options.port ?? 0, '127.0.0.1')
  await once(server, 'listening')
  const port = (server.address() as { port: number }).port
  const issuer = `http://127.0.0.1:${port}`

  const provider: MockProvider = {
    issuer,
    clientId: options.clientId ?? 'user-service-test',
    clientSecret: options.clientSecret ?? randomBytes(32).toString('base64url'),
    identity: { sub: 'user-1', email: 'user1@example.com', email_verified: true },
    idTokenDefect: null,
    denyNext: false,
    requests: [],
    failing: new Set(),
    down: async () => {
      // The held requests' sockets are cut below: nothing is left to answer them.
      held.length = 0
      const closed = server.listening ? once(server, 'close') : undefined
      if (closed !== undefined) server.close()
      for (const socket of sockets) socket.destroy()
      await closed
    },
    up: async () => {
      if (server.listening) return
      server.listen(port, '127.0.0.1')
      await once(server, 'listening')
    },
    hang: () => { hung = true },
    release: () => {
      hung = false
      for (const handle of held.splice(0)) handle()
    },
    nextRequest: async () => (await once(arrivals, 'request') as [string])[0],
    authorize: async (authorizationUrl) => {
      const response = await fetch(authorizationUrl, { redirect: 'manual' })
      const location = response.headers.get('location')
      const body = await response.text()
      if (response.status !== 302 || location === null) throw new Error(`authorize answered ${response.status}: ${body}`)
      return new URL(location)
    },
    close: async () => {
      // What is held is cut, not answered: answering while the sockets close would race.
      hung = false
      await provider.down()
    }
  }

  async function route (request: IncomingMessage, response: ServerResponse): Promise<void> {
    const url = new URL(request.url ?? '/', issuer)
    const key = `${request.method ?? 'GET'} ${url.pathname}`
    if (provider.failing.has(url.pathname)) return send(response, 503, { error: 'temporarily_unavailable' })
    if (key === 'GET /.well-known/openid-configuration') return send(response, 200, discovery())
    if (key === 'GET /jwks') return send(response, 200, { keys: [jwk] })
    if (key === 'GET /authorize') return authorize(url.searchParams, response)
    if (key === 'POST /token') return token(request, response)
    if (key === 'GET /userinfo') {
      const identity = accessTokens.get((request.headers.authorization ?? '').replace(/^Bearer /, ''))
      if (identity !== undefined) return send(response, 200, identity)
      // RFC 6750 §3: a refused bearer token is told in the challenge, not only in the body.
      response.setHeader('www-authenticate', 'Bearer error="invalid_token"')
      return send(response, 401, { error: 'invalid_token' })
    }
    send(response, 404, { error: 'not_found' })
  }

  function discovery (): Record<string, unknown> {
    return {
      issuer,
      authorization_endpoint: `${issuer}/authorize`,
      token_endpoint: `${issuer}/token`,
      userinfo_endpoint: `${issuer}/userinfo`,
      jwks_uri: `${issuer}/jwks`,
      response_types_supported: ['code'],
      subject_types_supported: ['public'],
      id_token_signing_alg_values_supported: ['RS256'],
      code_challenge_methods_supported: ['S256'],
      token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
      grant_types_supported: ['authorization_code'],
      scopes_supported: ['openid', 'email', 'profile'],
      claims_supported: ['sub', 'email', 'email_verified', 'name', 'preferred_username']
    }
  }

  function authorize (query: URLSearchParams, response: ServerResponse): void {
    const redirectUri = query.get('redirect_uri')
    const required = ['state', 'nonce', 'code_challenge'].every((name) => (query.get(name) ?? '') !== '')
    if (query.get('client_id') !== provider.clientId || redirectUri === null || !URL.canParse(redirectUri) || query.get('response_type') !== 'code' ||
      !required || query.get('code_challenge_method') !== 'S256') {
      return send(response, 400, { error: 'invalid_request', error_description: 'client_id, redirect_uri, response_type=code, state, nonce and S256 PKCE are required' })
    }
    const back = new URL(redirectUri)
    if (provider.denyNext) {
      provider.denyNext = false
      back.searchParams.set('error', 'access_denied')
      back.searchParams.set('error_description', 'the user said no')
    } else {
      const code = randomBytes(16).toString('base64url')
      codes.set(code, { identity: { ...provider.identity }, nonce: query.get('nonce') ?? '', redirectUri, challenge: query.get('code_challenge') ?? '' })
      back.searchParams.set('code', code)
    }
    back.searchParams.set('state', query.get('state') ?? '')
    response.writeHead(302, { location: back.href }).end()
  }

  async function token (request: IncomingMessage, response: ServerResponse): Promise<void> {
    let body = ''
    for await (const chunk of request) body += String(chunk)
    const form = new URLSearchParams(body)
    const [id, secret] = clientCredentials(request.headers.authorization, form)
    if (id !== provider.clientId || secret === undefined || !same(secret, provider.clientSecret)) {
      response.setHeader('www-authenticate', 'Basic realm="mock"')
      return send(response, 401, { error: 'invalid_client' })
    }
    if (form.get('grant_type') !== 'authorization_code') return send(response, 400, { error: 'unsupported_grant_type' })
    const code = form.get('code') ?? ''
    const pending = codes.get(code)
    // Spent by any authenticated attempt, even a failed one: a code that leaked is not worth retrying.
    codes.delete(code)
    const verifier = form.get('code_verifier') ?? ''
    if (pending === undefined || pending.redirectUri !== form.get('redirect_uri') ||
      createHash('sha256').update(verifier).digest('base64url') !== pending.challenge) {
      return send(response, 400, { error: 'invalid_grant' })
    }
    const accessToken = randomBytes(16).toString('base64url')
    accessTokens.set(accessToken, pending.identity)
    const idToken = provider.idTokenDefect === 'missing' ? {} : { id_token: await idTokenFor(pending) }
    send(response, 200, { access_token: accessToken, token_type: 'Bearer', expires_in: 300, scope: 'openid email profile', ...idToken })
  }

  async function idTokenFor (pending: PendingCode): Promise<string> {
    const defect = provider.idTokenDefect
    const now = Math.floor(Date.now() / 1000) - (defect === 'expired' ? 3600 : 0)
    const claims = Object.fromEntries(Object.entries(pending.identity).filter(([, value]) => value !== undefined))
    const key: CryptoKey = defect === 'bad_signature' ? forger.privateKey : signing.privateKey
    return new SignJWT({ ...claims, nonce: defect === 'wrong_nonce' ? 'another-nonce' : pending.nonce })
      .setProtectedHeader({ alg: 'RS256', kid, typ: 'JWT' })
      .setIssuer(defect === 'wrong_issuer' ? 'https://evil.example' : issuer)
      .setAudience(defect === 'wrong_audience' ? 'another-client' : provider.clientId)
      .setSubject(pending.identity.sub)
      .setIssuedAt(now)
      .setExpirationTime(now + 300)
      .sign(key)
  }

  return provider
}

/** client_secret_basic (RFC 6749 §2.3.1: each part form-urlencoded) or client_secret_post. */
function clientCredentials (authorization: string | undefined, form: URLSearchParams): [string | undefined, string | undefined] {
  if (authorization?.startsWith('Basic ') === true) {
    const decoded = Buffer.from(authorization.slice(6), 'base64').toString()
    const colon = decoded.indexOf(':')
    // A malformed escape is a client that failed to authenticate, not a server error.
    const part = (text: string): string | undefined => { try { return decodeURIComponent(text.replace(/\+/g, ' ')) } catch { return undefined } }
    return colon === -1 ? [undefined, undefined] : [part(decoded.slice(0, colon)), part(decoded.slice(colon + 1))]
  }
  return [form.get('client_id') ?? undefined, form.get('client_secret') ?? undefined]
}

function same (a: string, b: string): boolean {
  const left = Buffer.from(a)
  const right = Buffer.from(b)
  return left.length === right.length && timingSafeEqual(left, right)
}

function send (response: ServerResponse, status: number, body: unknown): void {
  response.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' }).end(JSON.stringify(body))
}
