import { LogController, type FastifyReply, type FastifyRequest } from 'fastify'

/** One log line per request, written when it completes, with method, url, status and time. */
export class OneLinePerRequest extends LogController {
  constructor () {
    super({ requestIdLogLabel: 'reqId' })
  }

  override incomingRequest (): void {}

  override requestCompleted (error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply): void {
    const line = { req: request, res: reply, responseTime: Math.round(reply.elapsedTime * 100) / 100 }
    if (error !== null && error !== undefined) reply.log.error({ ...line, err: error }, 'request errored')
    else reply.log.info(line, 'request completed')
  }
}
