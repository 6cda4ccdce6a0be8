import { AppError, OAuthError } from '../../../src/errors.js'

const REALM = 'Bearer realm="user-service"'

/**
 * How the bearer-token gate's errors read on an OAuth-style endpoint for resource servers
 * (RFC 6750 §3.1 codes, RFC 6749 §5.2 shape); `needs` says who may call it.
 */
export function gateErrors (needs: string): (error: AppError) => OAuthError | undefined {
  return (error) => {
    switch (error.code) {
      case 'not_authenticated': return new OAuthError('invalid_token', `this endpoint needs ${needs}`, 401, { 'www-authenticate': REALM })
      case 'invalid_token':
      case 'token_expired': return new OAuthError('invalid_token', error.message, 401, { 'www-authenticate': `${REALM}, error="invalid_token"` })
      case 'forbidden': return new OAuthError('insufficient_scope', error.message, 403, { 'www-authenticate': `${REALM}, error="insufficient_scope"` })
      default: return undefined
    }
  }
}

export function forbidden (message: string): AppError {
  return new AppError('forbidden', message)
}
