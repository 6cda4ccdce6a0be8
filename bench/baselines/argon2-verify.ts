// Baseline for logins: raw argon2.verify throughput at the service's parameters, with
// `concurrency` verifications in flight (as many as the login scenario's connections), on
// libuv's thread pool with the service's environment. It prints "ready", then, for each
// line "<milliseconds>" read from stdin, runs that long and prints one JSON line, so the
// bench can interleave it with the service's slices (both then see the same background load).
import { createInterface } from 'node:readline'
import argon2 from 'argon2'

const [memoryKib, timeCost, parallelism, concurrency] = process.argv.slice(2).map(Number)
if ([memoryKib, timeCost, parallelism, concurrency].some((value) => value === undefined || !Number.isFinite(value))) {
  process.stderr.write('usage: argon2-verify.ts MEMORY_KIB TIME_COST PARALLELISM CONCURRENCY\n')
  process.exit(2)
}

const password = 'correct horse battery staple'
const hash = await argon2.hash(password, { type: argon2.argon2id, memoryCost: memoryKib, timeCost, parallelism })

async function run (durationMs: number): Promise<{ verifications: number, seconds: number }> {
  let verifications = 0
  const started = performance.now()
  const deadline = started + durationMs
  const worker = async (): Promise<void> => {
    while (performance.now() < deadline) {
      if (!await argon2.verify(hash, password)) throw new Error('verify failed')
      verifications += 1
    }
  }
  await Promise.all(Array.from({ length: concurrency ?? 1 }, worker))
  return { verifications, seconds: (performance.now() - started) / 1000 }
}

process.stdout.write('ready\n')
for await (const line of createInterface({ input: process.stdin })) {
  const result = await run(Number(line))
  process.stdout.write(JSON.stringify({ ...result, threadpool: Number(process.env.UV_THREADPOOL_SIZE ?? 4) }) + '\n')
}
