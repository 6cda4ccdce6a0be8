import { Histogram, Registry } from 'prom-client'
import t from 'tap'
import { RequestDurations } from '../src/request-durations.js'

const BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]
/** On a bound, between bounds, above every bound, on several series. */
const OBSERVATIONS: Array<[string, string, number, number]> = [
  ['GET', '/api/v1/users/me', 200, 0.0004],
  ['GET', '/api/v1/users/me', 200, 0.005],
  ['GET', '/api/v1/users/me', 200, 0.0051],
  ['GET', '/api/v1/users/me', 401, 0.002],
  ['POST', '/api/v1/auth/login', 401, 0.3],
  ['POST', '/api/v1/auth/login', 200, 12.5],
  ['GET', 'unmatched', 404, 10]
]

t.test("the exposition is prom-client's Histogram's, byte for byte, for the same observations", async (t) => {
  const ours = new Registry()
  const durations = new RequestDurations(BUCKETS, [ours])
  const theirs = new Registry()
  const histogram = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'HTTP request duration by route (the route pattern, not the URL) and status code',
    labelNames: ['method', 'route', 'status_code'],
    buckets: BUCKETS,
    registers: [theirs]
  })
  for (const [method, route, status, seconds] of OBSERVATIONS) {
    durations.observe(method, route, status, seconds)
    histogram.observe({ method, route, status_code: String(status) }, seconds)
  }
  const text = await ours.metrics()
  t.equal(text, await theirs.metrics())
  t.match(text, /^http_request_duration_seconds_bucket\{le="0.005",method="GET",route="\/api\/v1\/users\/me",status_code="200"\} 2$/m, 'a value on a bound counts in that bucket')
  t.match(text, /^http_request_duration_seconds_bucket\{le="10",method="POST",route="\/api\/v1\/auth\/login",status_code="200"\} 0$/m)
  t.match(text, /^http_request_duration_seconds_bucket\{le="\+Inf",method="POST",route="\/api\/v1\/auth\/login",status_code="200"\} 1$/m, 'above every bound: +Inf only')
  t.same(await ours.getMetricsAsJSON(), await theirs.getMetricsAsJSON(), 'and the JSON form too')
})

t.test('reset empties every series; a registry takes the name once', async (t) => {
  const registry = new Registry()
  const durations = new RequestDurations(BUCKETS, [registry])
  durations.observe('GET', '/health', 200, 0.001)
  durations.reset()
  t.equal(await registry.metrics(), '# HELP http_request_duration_seconds HTTP request duration by route (the route pattern, not the URL) and status code\n# TYPE http_request_duration_seconds histogram\n')
  t.throws(() => new RequestDurations(BUCKETS, [registry]), /already been registered/)
})
