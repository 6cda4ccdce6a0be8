// Baseline for GET /api/v1/users/me: a bare Fastify route returning a small JSON object,
// in its own process, on the same Node. No plugins, no logging, no database.
import Fastify from 'fastify'

const app = Fastify({ logger: false })
app.get('/', async () => ({ id: '0193a8f0-6b7c-7a3e-9a51-0f1d2e3c4b5a', username: 'bench', roles: ['user'] }))

const url = await app.listen({ port: 0, host: '127.0.0.1' })
process.stdout.write(`Server listening at ${url}\n`)
process.on('SIGTERM', () => { app.close().then(() => process.exit(0), () => process.exit(1)) })
