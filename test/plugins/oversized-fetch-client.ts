/**
 * A client process that POSTs an oversized body with Node's fetch, round after round, and
 * prints each round's outcome as JSON. A process of its own, as a real client is: in the
 * server's process the client reads the answer before the server gets to close the socket.
 *
 * Usage: node --import tsx oversized-fetch-client.ts '{"url":…,"contentType":…,"bytes":…,"chunked":…,"rounds":…}'
 */
interface Job { url: string, contentType: string, bytes: number, chunked: boolean, rounds: number }

export interface Outcome { status?: number, contentType?: string, connection?: string, body?: unknown, error?: string }

const CHUNK = 64 * 1024

function bodyOf (job: Job): { body: BodyInit, duplex?: 'half' } {
  const bytes = Buffer.alloc(job.bytes, 'a')
  if (!job.chunked) return { body: bytes }
  // A stream has no length: fetch sends it chunked.
  let offset = 0
  const stream = new ReadableStream<Uint8Array>({
    pull (controller) {
      if (offset >= bytes.length) controller.close()
      else { controller.enqueue(bytes.subarray(offset, offset + CHUNK)); offset += CHUNK }
    }
  })
  return { body: stream, duplex: 'half' }
}

async function round (job: Job): Promise<Outcome> {
  try {
    const response = await fetch(job.url, { method: 'POST', headers: { 'content-type': job.contentType }, ...bodyOf(job) } as RequestInit)
    return {
      status: response.status,
      contentType: response.headers.get('content-type') ?? undefined,
      connection: response.headers.get('connection') ?? undefined,
      body: await response.json()
    }
  } catch (error) {
    const cause = (error as { cause?: { code?: string, message?: string } }).cause
    return { error: [String(error), cause?.code, cause?.message].filter(Boolean).join(': ') }
  }
}

const job = JSON.parse(process.argv[2] ?? '{}') as Job
const outcomes: Outcome[] = []
for (let i = 0; i < job.rounds; i += 1) outcomes.push(await round(job))
process.stdout.write(JSON.stringify(outcomes))
