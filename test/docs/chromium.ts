import { existsSync } from 'node:fs'
import { chromium, type Browser } from 'playwright-core'

/** Debian's Chromium, which .ci/run installs; playwright-core drives it. */
export const CHROMIUM = '/usr/bin/chromium'

/** Per-step timeout of the browser tests: generous, the suite may share the cores with another run. */
export const STEP_TIMEOUT_MS = 30_000

/** tap's `skip` for a browser test: false, or why it cannot run here. */
export const skipWithoutChromium = existsSync(CHROMIUM) ? false : `Chromium not installed at ${CHROMIUM}: apt-get install chromium`

/**
 * Launches headless Chromium and closes it at the end of the test. Without the background
 * networking flags it keeps trying to reach Google's hosts, which this machine refuses.
 */
export async function launchChromium (t: { teardown: (fn: () => unknown) => void }): Promise<Browser> {
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    timeout: STEP_TIMEOUT_MS,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync']
  })
  t.teardown(async () => { await browser.close() })
  return browser
}
