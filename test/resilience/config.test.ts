import t from 'tap'
import { ConfigError, loadConfig } from '../../src/config.js'

t.test('resilience settings: defaults', async (t) => {
  const config = loadConfig({})
  t.same(config.breaker, { timeoutMs: 10000, errorThresholdPercent: 50, resetMs: 10000, volumeThreshold: 5 })
  t.same(config.dbTimeouts, { statementMs: 5000, connectMs: 5000 })
  t.equal(config.metricsEnabled, true)
  t.same(config.loadShedding, { maxEventLoopDelayMs: 0, maxHeapUsedBytes: 0, maxEventLoopUtilization: 0 }, 'load shedding off')
})

t.test('resilience settings: from the environment', async (t) => {
  const config = loadConfig({
    DB_BREAKER_TIMEOUT_MS: '2500',
    DB_BREAKER_ERROR_THRESHOLD: '25',
    DB_BREAKER_RESET_MS: '2000',
    DB_BREAKER_VOLUME: '0',
    DB_STATEMENT_TIMEOUT_MS: '0',
    DB_CONNECT_TIMEOUT_MS: '750',
    METRICS_ENABLED: 'false',
    MAX_EVENT_LOOP_DELAY_MS: '1000',
    MAX_HEAP_USED_BYTES: '1000000000',
    MAX_EVENT_LOOP_UTILIZATION: '0.98'
  })
  t.same(config.breaker, { timeoutMs: 2500, errorThresholdPercent: 25, resetMs: 2000, volumeThreshold: 0 })
  t.same(config.dbTimeouts, { statementMs: 0, connectMs: 750 })
  t.equal(config.metricsEnabled, false)
  t.same(config.loadShedding, { maxEventLoopDelayMs: 1000, maxHeapUsedBytes: 1000000000, maxEventLoopUtilization: 0.98 })
})

t.test('bad values name the variable', async (t) => {
  t.throws(() => loadConfig({ DB_BREAKER_ERROR_THRESHOLD: '150' }), new ConfigError('invalid configuration: DB_BREAKER_ERROR_THRESHOLD must be at most 100 (got "150")'))
  t.throws(() => loadConfig({ DB_BREAKER_RESET_MS: 'soon' }), /DB_BREAKER_RESET_MS must be an integer \(got "soon"\)/)
  t.throws(() => loadConfig({ MAX_EVENT_LOOP_UTILIZATION: '2' }), /MAX_EVENT_LOOP_UTILIZATION must be at most 1 \(got "2"\)/)
})
