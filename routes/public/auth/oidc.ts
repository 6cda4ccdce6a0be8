import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { rateLimited } from '../../../src/rate-limit/rules.js'
import { RATE_LIMIT } from '../../../src/schemas/headers.js'
import { AuthorizeQuery, CallbackQuery, ProviderList, ProviderParams } from '../../../src/schemas/oidc.js'
import { publicResponses } from '../../../src/schemas/responses.js'
import { clientContext } from '../../client-context.js'

const responses = publicResponses.with(RATE_LIMIT)

/** A 302 to somewhere a browser goes next; the URL may carry a code, so no cache and no Referer may keep it. */
const redirect = (description: string): ReturnType<typeof responses.empty> => responses.empty(description, {
  Location: { type: 'string', description: 'Where the browser goes next', examples: ['https://app.example.com/auth/callback?code=…&state=…'] }
})

const NOT_FOUND = [404, 'No identity provider of that name is configured'] as const
const UNAVAILABLE = [503, 'The provider cannot be reached, or its circuit breaker is open (see Retry-After); password sign-in is unaffected'] as const

/**
 * Sign-in through an external OpenID provider (DESIGN "External identity providers"): the front
 * end sends the browser to /authorize with its own PKCE challenge and state, the provider
 * returns it to /callback, which sends it on to the front end with a one-time code that the
 * token endpoint trades (grant_type=authorization_code) for the usual tokens.
 */
const oidcRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get('/oidc', {
    schema: {
      tags: ['auth'],
      operationId: 'listIdentityProviders',
      summary: 'The external identity providers one can sign in with',
      security: [],
      response: { 200: responses.json(ProviderList, 'The names of the providers of OIDC_PROVIDERS'), ...responses.errors(400, 429, 500, 503) }
    },
    config: rateLimited('signin')
  }, async () => ({ providers: app.oidc.providers.map((provider) => provider.name) }))

  app.get('/oidc/:provider/authorize', {
    schema: {
      tags: ['auth'],
      operationId: 'authorizeWithIdentityProvider',
      summary: 'Start a sign-in with an external identity provider (redirects the browser to it)',
      description: 'The front end sends the browser here with its redirect_uri (one of OIDC_REDIRECT_ALLOWLIST), its ' +
        'state and its PKCE code_challenge (S256). The answer redirects to the provider, with this service\'s own PKCE, ' +
        'state and nonce. A redirect_uri that is not on the list is a 400, never a redirect.',
      security: [],
      params: ProviderParams,
      querystring: AuthorizeQuery,
      response: {
        302: redirect('To the provider\'s authorization endpoint'),
        ...responses.errors(400, NOT_FOUND, 429, 500, UNAVAILABLE)
      }
    },
    config: rateLimited('signin')
  }, async (request, reply) => {
    const { redirect_uri: redirectUri, state, code_challenge: codeChallenge } = request.query
    const url = await app.oidc.authorize(request.params.provider, { redirectUri, state, codeChallenge })
    return reply.code(302).header('cache-control', 'no-store').header('location', url.href).send()
  })

  app.get('/oidc/:provider/callback', {
    schema: {
      tags: ['auth'],
      operationId: 'identityProviderCallback',
      summary: 'Where the identity provider returns the browser (the callback URL to register with it)',
      description: 'Verifies the state (once), trades the provider\'s code and verifies its ID token (signature, iss, ' +
        'aud, nonce, exp), finds or links the account, then redirects to the front end\'s redirect_uri with a one-time ' +
        '`code` (60 s) and its `state`, or with `error` and `error_description`. A state that is unknown, expired or ' +
        'already used is a 400: without it there is no redirect_uri to trust.',
      security: [],
      params: ProviderParams,
      querystring: CallbackQuery,
      response: {
        302: redirect('To the front end\'s redirect_uri, with code and state, or error'),
        ...responses.errors(400, NOT_FOUND, 429, 500, UNAVAILABLE)
      }
    },
    config: rateLimited('signin')
  }, async (request, reply) => {
    const rawQuery = request.url.includes('?') ? request.url.slice(request.url.indexOf('?') + 1) : ''
    const target = await app.oidc.callback(request.params.provider, request.query, rawQuery, clientContext(request))
    return reply.code(302).header('cache-control', 'no-store').header('referrer-policy', 'no-referrer').header('location', target.href).send()
  })
}

export default oidcRoutes
