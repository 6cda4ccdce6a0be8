import type { FastifyBaseLogger } from 'fastify'
import pino from 'pino'
import t from 'tap'
import { RequestLogger } from '../src/request-logger.js'

function capturedLogger (): { logger: pino.Logger, lines: Array<Record<string, unknown>>, children: () => number } {
  const lines: Array<Record<string, unknown>> = []
  const logger = pino({ level: 'info', base: null, timestamp: false }, { write: (line: string) => { lines.push(JSON.parse(line) as Record<string, unknown>) } })
  let children = 0
  // pino's children inherit from their parent: the spy calls the original on whichever logger it is called on.
  const child = logger.child
  logger.child = function (this: pino.Logger, ...args: Parameters<typeof child>) { children += 1; return child.apply(this, args) } as typeof child
  return { logger, lines, children: () => children }
}

t.test('no pino child until the request logs; then every line carries the request id', async (t) => {
  const { logger, lines, children } = capturedLogger()
  const log: FastifyBaseLogger = new RequestLogger(logger, { reqId: 'r-1' }, {})
  t.equal(log.level, 'info', 'the level is the parent\'s')
  t.equal(children(), 0, 'a request that does not log costs no child')

  log.info({ event: 'a' }, 'first')
  log.warn('second %s', 'formatted')
  log.error(new Error('boom'))
  t.equal(children(), 1, 'one child, made once')
  t.match(lines, [
    { level: 30, reqId: 'r-1', event: 'a', msg: 'first' },
    { level: 40, reqId: 'r-1', msg: 'second formatted' },
    { level: 50, reqId: 'r-1', err: { message: 'boom' } }
  ])
})

t.test('levels: below the level nothing is written; a route level and a changed level hold', async (t) => {
  const { logger, lines } = capturedLogger()
  const log = new RequestLogger(logger, { reqId: 'r-2' }, { level: 'warn' })
  t.equal(log.level, 'warn', 'the route\'s level, before any child exists')
  log.info('hidden')
  log.debug('hidden')
  log.trace('hidden')
  log.silent()
  log.fatal('shown')
  t.match(lines, [{ level: 60, reqId: 'r-2', msg: 'shown' }])
  log.level = 'debug'
  log.debug('now shown')
  t.equal(log.level, 'debug')
  t.match(lines.at(-1), { level: 20, reqId: 'r-2', msg: 'now shown' })
})

t.test("a child of the request's logger keeps the request id and adds its own bindings", async (t) => {
  const { logger, lines } = capturedLogger()
  const log = new RequestLogger(logger, { reqId: 'r-3' }, {})
  log.child({ component: 'stream' }).info('from the child')
  t.match(lines, [{ reqId: 'r-3', component: 'stream', msg: 'from the child' }])
})
