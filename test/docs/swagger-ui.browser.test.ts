import { createServer } from 'node:net'
import type { Page } from 'playwright-core'
import t, { type Test } from 'tap'
import { buildApp, registerAccount } from '../helper.js'
import { launchChromium, skipWithoutChromium as skip, STEP_TIMEOUT_MS } from './chromium.js'

// A person in Swagger UI: Authorize with username and password (OAuth2 password flow), then
// try GET /users/me. Drives Debian's Chromium through playwright-core.

const SCREENSHOT = '/tmp/swagger-ui.png'

/** A port that was free a moment ago (the app's PUBLIC_URL must name it before it listens). */
async function freePort (): Promise<number> {
  return await new Promise((resolve, reject) => {
    const server = createServer()
    server.unref()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      const port = typeof address === 'object' && address !== null ? address.port : 0
      server.close(() => { resolve(port) })
    })
  })
}

t.test('Swagger UI: authorize with the password flow, then try GET /users/me', { skip, timeout: 180_000 }, async (t) => {
  const port = await freePort()
  const publicUrl = `http://127.0.0.1:${port}`
  const { app } = await buildApp(t, { env: { PUBLIC_URL: publicUrl } })
  await app.listen({ port, host: '127.0.0.1' })
  const account = await registerAccount(app)

  // Its teardown is registered after buildApp's, so it runs first: the browser goes before the server.
  const browser = await launchChromium(t)

  const page: Page = await browser.newPage({ viewport: { width: 1280, height: 1400 } })
  page.setDefaultTimeout(STEP_TIMEOUT_MS)
  const problems: string[] = []
  page.on('console', (message) => { if (message.type() === 'error') problems.push(`console: ${message.text()}`) })
  page.on('pageerror', (error) => { problems.push(`page error: ${error.message}`) })

  await page.goto(`${publicUrl}/docs`, { waitUntil: 'load' })
  await page.locator('#operations-users-getMe').waitFor({ state: 'visible' })
  t.match(await page.locator('.info .title').first().innerText(), /user-service/, 'Swagger UI shows the service title')

  const dialog = page.locator('.modal-ux')
  const oauthSection = dialog.locator('.auth-container', { hasText: 'OAuth2PasswordBearer' })
  const operation = page.locator('#operations-users-getMe')

  /** Authorize → OAuth2PasswordBearer with the given login (username or email) → Close. */
  async function authorize (t: Test, login: string): Promise<void> {
    await page.locator('.btn.authorize').first().click()
    await dialog.waitFor({ state: 'visible' })
    const logout = oauthSection.locator('.btn.modal-btn.auth', { hasText: 'Logout' })
    if (await logout.isVisible()) await logout.click()
    await oauthSection.locator('#oauth_username').fill(login)
    await oauthSection.locator('#oauth_password').fill(account.password)
    const tokenResponse = page.waitForResponse((response) => new URL(response.url()).pathname === '/api/v1/auth/token')
    await oauthSection.locator('.auth-btn-wrapper .btn.modal-btn.auth.authorize').first().click()
    t.equal((await tokenResponse).status(), 200, 'the token request Swagger UI sent succeeded')
    // Once authorized, the OAuth2 section says so and offers Logout instead of Authorize.
    await logout.waitFor({ state: 'visible' })
    t.match(await oauthSection.innerText(), /Authorized/, 'the OAuth2PasswordBearer section shows as authorized')
    await dialog.locator('.btn-done').first().click()
    await dialog.waitFor({ state: 'hidden' })
    t.equal(await page.locator('.btn.authorize.locked').count() > 0, true, 'the Authorize button shows a locked padlock')
  }

  /** Execute GET /users/me and read the live response. */
  async function tryGetMe (t: Test): Promise<void> {
    await operation.locator('.execute').click()
    const status = operation.locator('.live-responses-table tbody .response-col_status').first()
    await status.waitFor({ state: 'visible' })
    t.equal((await status.innerText()).trim(), '200', 'the live response is 200')
    const body = await operation.locator('.live-responses-table tbody .response-col_description').first().innerText()
    t.match(body, account.email, 'the response body shows the user\'s email')
    t.match(body, account.username, 'the response body shows the user\'s username')
    t.notMatch(body, /password/i, 'the response body has no password field')
  }

  await t.test('authorize with the username, then try GET /users/me', async (t) => {
    await authorize(t, account.username)
    await operation.locator('.opblock-summary').first().click()
    await operation.locator('.try-out__btn').click()
    await tryGetMe(t)
  })

  await t.test('log out, authorize with the email, try again', async (t) => {
    // Clear the previous result so a stale 200 cannot pass for a new one.
    await operation.locator('.btn-clear').click()
    await operation.locator('.live-responses-table').waitFor({ state: 'detached' })
    await authorize(t, account.email)
    await tryGetMe(t)
  })

  await operation.scrollIntoViewIfNeeded()
  await page.screenshot({ path: SCREENSHOT, fullPage: true })
  t.same(problems.filter((problem) => /Content Security Policy|Refused to/i.test(problem)), [], 'no CSP violations')
  t.same(problems, [], 'no console or page errors')
})
