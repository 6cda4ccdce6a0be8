import { PASSWORD, type Account } from '../scenarios.js'

/** Polls `/ready` until it answers 200 (at most 60 s). */
export async function waitReady (url: string): Promise<void> {
  const deadline = Date.now() + 60_000
  for (;;) {
    const status = await fetch(`${url}/ready`).then(async (response) => { await response.arrayBuffer(); return response.status }, () => 0)
    if (status === 200) return
    if (Date.now() > deadline) throw new Error(`${url}/ready did not answer 200 (last: ${status})`)
    await new Promise((resolve) => setTimeout(resolve, 200))
  }
}

/**
 * Registers `count` accounts through the API (all with PASSWORD). `headers(index)` adds
 * headers to a registration (a forwarded address, when the service has limits on).
 */
export async function seedAccounts (url: string, count: number, headers: (index: number) => Record<string, string> = () => ({})): Promise<Account[]> {
  const run = `${process.pid.toString(36)}${Date.now().toString(36)}`
  return Promise.all(Array.from({ length: count }, async (_, index) => {
    const body = { email: `seed${run}x${index}@bench.example.com`, username: `seed${run}x${index}`, password: PASSWORD }
    const response = await fetch(`${url}/api/v1/auth/register`, {
      method: 'POST', headers: { 'content-type': 'application/json', ...headers(index) }, body: JSON.stringify(body)
    })
    const json = await response.json() as { access_token?: string, refresh_token?: string }
    if (response.status !== 201 || json.access_token === undefined) throw new Error(`seeding failed: ${response.status} ${JSON.stringify(json)}`)
    return { email: body.email, password: PASSWORD, accessToken: json.access_token, refreshToken: json.refresh_token }
  }))
}
