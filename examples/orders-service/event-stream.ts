/**
 * Server-Sent Events, read from a fetch body: the parts of the WHATWG "event stream
 * interpretation" a feed reader needs (fields `id`, `data`, `retry`, `event`, and comments,
 * which heartbeats are), with LF, CRLF or CR line ends, and a block split across chunks.
 */
export interface StreamBlock {
  id?: string
  data?: string
  retry?: string
  event?: string
  /** A comment line (`: heartbeat`), without the colon. */
  comment?: string
}

const FIELDS = new Set(['id', 'data', 'retry', 'event'])

/** Each block (the lines up to a blank line) as it arrives; ends with the body. */
export async function * eventStreamBlocks (body: AsyncIterable<Uint8Array>): AsyncGenerator<StreamBlock> {
  const decoder = new TextDecoder()
  let buffered = ''
  let lines: string[] = []
  for await (const chunk of body) {
    buffered += decoder.decode(chunk, { stream: true })
    // A CR at the very end may be the first half of a CRLF: it waits for the next chunk.
    for (let end = lineEnd(buffered); end !== -1; end = lineEnd(buffered)) {
      const line = buffered.slice(0, end)
      buffered = buffered.slice(buffered.startsWith('\r\n', end) ? end + 2 : end + 1)
      if (line !== '') {
        lines.push(line)
        continue
      }
      if (lines.length > 0) yield parseBlock(lines)
      lines = []
    }
  }
}

function lineEnd (text: string): number {
  const match = /\r\n|\n|\r(?!$)/.exec(text)
  return match === null ? -1 : match.index
}

function parseBlock (lines: string[]): StreamBlock {
  const block: StreamBlock = {}
  for (const line of lines) {
    if (line.startsWith(':')) {
      block.comment = line.slice(1).trim()
      continue
    }
    const colon = line.indexOf(':')
    const field = colon === -1 ? line : line.slice(0, colon)
    if (!FIELDS.has(field)) continue
    const value = colon === -1 ? '' : line.slice(colon + 1).replace(/^ /, '')
    const name = field as 'id' | 'data' | 'retry' | 'event'
    block[name] = name === 'data' && block.data !== undefined ? `${block.data}\n${value}` : value
  }
  return block
}
