import { setImmediate as endOfTurn } from 'node:timers/promises'
import t from 'tap'
import { TurnBatchedDestination } from '../src/log-destination.js'

function recordingSink (): { writes: string[], flushes: number, write: (chunk: string) => void, flushSync: () => void } {
  const sink = {
    writes: [] as string[],
    flushes: 0,
    write: (chunk: string) => { sink.writes.push(chunk) },
    flushSync: () => { sink.flushes += 1 }
  }
  return sink
}

t.test('the lines of one turn reach the sink in one write, in order, when the turn ends', async (t) => {
  const sink = recordingSink()
  const destination = new TurnBatchedDestination(sink)
  destination.write('{"n":1}\n')
  destination.write('{"n":2}\n')
  t.same(sink.writes, [], 'nothing is written during the turn')
  await endOfTurn()
  t.same(sink.writes, ['{"n":1}\n{"n":2}\n'])
  destination.write('{"n":3}\n')
  await endOfTurn()
  t.same(sink.writes, ['{"n":1}\n{"n":2}\n', '{"n":3}\n'], 'a later turn writes its own line')
  await endOfTurn()
  t.equal(sink.writes.length, 2, 'a turn without lines writes nothing')
})

t.test('a large batch is written at once instead of growing until the turn ends', async (t) => {
  const sink = recordingSink()
  const destination = new TurnBatchedDestination(sink)
  const line = `${'x'.repeat(1023)}\n`
  for (let count = 0; count < 64; count += 1) destination.write(line)
  t.equal(sink.writes.length, 1, 'written when 64 KiB were pending')
  t.equal(sink.writes[0]?.length, 64 * 1024)
  destination.write('{"after":true}\n')
  await endOfTurn()
  t.same(sink.writes.slice(1), ['{"after":true}\n'], 'what follows waits for the end of the turn again')
})

t.test('flushSync writes what is pending at once (the process is exiting)', async (t) => {
  const sink = recordingSink()
  const destination = new TurnBatchedDestination(sink)
  destination.write('{"last":true}\n')
  destination.flushSync()
  t.same(sink.writes, ['{"last":true}\n'])
  t.equal(sink.flushes, 1, 'and asks the sink to write what it holds')
  await endOfTurn()
  t.equal(sink.writes.length, 1, 'the line is not written twice')
})

t.test("flush(callback), pino's logger.flush, writes and calls back; a failing sink is reported", async (t) => {
  const sink = recordingSink()
  const destination = new TurnBatchedDestination(sink)
  destination.write('{"a":1}\n')
  const flushed = await new Promise<Error | undefined>((resolve) => { destination.flush(resolve) })
  t.equal(flushed, undefined)
  t.same(sink.writes, ['{"a":1}\n'])

  const failing = new TurnBatchedDestination({ write: () => { throw new Error('EBADF') } })
  failing.write('{"b":1}\n')
  const failed = await new Promise<Error | undefined>((resolve) => { failing.flush(resolve) })
  t.match(failed, { message: 'EBADF' })
})
