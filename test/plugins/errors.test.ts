import t from 'tap'
import { toAppError } from '../../src/error-responses.js'
import { DatabaseUnavailableError } from '../../src/db/breaker.js'

t.test('a lost database connection that escaped the breaker is a 503 with Retry-After, not a 500', async (t) => {
  const error = toAppError(new Error('Connection terminated unexpectedly'))
  t.equal(error.status, 503)
  t.equal(error.code, 'service_unavailable')
  t.equal(error.headers['retry-after'], '1')
  t.notMatch(error.message, /terminated/, 'the driver message stays in the log, not in the answer')
})

t.test('the breaker refusal keeps its own Retry-After', async (t) => {
  const error = toAppError(new DatabaseUnavailableError('the database is unavailable', 7))
  t.equal(error.status, 503)
  t.equal(error.headers['retry-after'], '7')
})

t.test('any other error is an opaque 500', async (t) => {
  const error = toAppError(new Error('secret internals'))
  t.equal(error.status, 500)
  t.equal(error.code, 'internal_error')
  t.notMatch(error.message, /secret/)
})
