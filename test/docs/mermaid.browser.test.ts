import { readdirSync, readFileSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { createServer, type Server } from 'node:http'
import { createRequire } from 'node:module'
import type { AddressInfo } from 'node:net'
import { dirname, join, relative, resolve, sep } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Mermaid } from 'mermaid'
import t from 'tap'
import { onlyOnPGliteRun } from '../setup/databases.js'
import { launchChromium, skipWithoutChromium, STEP_TIMEOUT_MS } from './chromium.js'

// Every ```mermaid block in README.md and docs/*.md parses with Mermaid, so GitHub renders it
// instead of showing a syntax error. Mermaid is a browser library (it needs a DOM), so its
// ESM bundle runs in Debian's Chromium through playwright-core, served from node_modules on a
// loopback port; nothing else is fetched.

const ROOT = fileURLToPath(new URL('../../', import.meta.url))
// The ESM bundle loads only the chunks of the diagram types it meets: a few times faster to
// start than the 3.5 MB single-file mermaid.min.js.
const MERMAID_DIST = dirname(createRequire(import.meta.url).resolve('mermaid/dist/mermaid.esm.min.mjs'))

interface MermaidBlock {
  file: string
  /** The line of the opening fence: the block's first line is the one after it. */
  line: number
  text: string
}

function mermaidBlocks (file: string): MermaidBlock[] {
  const lines = readFileSync(file, 'utf8').split('\n')
  const blocks: MermaidBlock[] = []
  for (let start = 0; start < lines.length; start++) {
    if (!/^\s*```mermaid\s*$/.test(lines[start] ?? '')) continue
    let end = start + 1
    while (end < lines.length && !/^\s*```\s*$/.test(lines[end] ?? '')) end++
    // An unclosed fence runs to the end of the file on GitHub: parse that, as GitHub would.
    blocks.push({ file: relative(ROOT, file), line: start + 1, text: lines.slice(start + 1, end).join('\n') })
    start = end
  }
  return blocks
}

const docs = readdirSync(join(ROOT, 'docs')).filter((name) => name.endsWith('.md')).sort()
const blocks = [join(ROOT, 'README.md'), ...docs.map((name) => join(ROOT, 'docs', name))].flatMap(mermaidBlocks)

/** Serves an empty page at / and the files of mermaid/dist, on a loopback port. */
async function serveMermaid (): Promise<{ server: Server, origin: string }> {
  const server = createServer((request, response) => {
    const path = new URL(request.url ?? '/', 'http://localhost').pathname
    if (path === '/') {
      response.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><title>mermaid</title>')
      return
    }
    const file = resolve(MERMAID_DIST, `.${path}`)
    const served = file.startsWith(MERMAID_DIST + sep) ? readFile(file) : Promise.reject(new Error('outside dist'))
    served.then(
      (body) => { response.writeHead(200, { 'content-type': 'text/javascript' }).end(body) },
      () => { response.writeHead(404).end() }
    )
  })
  await new Promise<void>((resolve) => { server.listen(0, '127.0.0.1', resolve) })
  return { server, origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}` }
}

t.test('every Mermaid diagram in README.md and docs/*.md parses', { skip: skipWithoutChromium || onlyOnPGliteRun, timeout: 120_000 }, async (t) => {
  t.ok(blocks.length > 0, `found ${blocks.length} Mermaid blocks`)

  const { server, origin } = await serveMermaid()
  t.teardown(async () => { await new Promise((resolve) => server.close(resolve)) })
  // Its teardown is registered after the server's, so it runs first: the browser goes before the server.
  const browser = await launchChromium(t)
  const page = await browser.newPage()
  page.setDefaultTimeout(STEP_TIMEOUT_MS)
  await page.route((url) => url.origin !== origin, async (route) => { await route.abort() })
  await page.goto(`${origin}/`)
  await page.evaluate(async (bundle) => {
    const { default: mermaid } = await import(bundle) as { default: Mermaid }
    mermaid.initialize({ startOnLoad: false })
    Object.assign(globalThis, { mermaid })
  }, `${origin}/mermaid.esm.min.mjs`)

  for (const block of blocks) {
    // null when it parses, else the parser's message (which names the line within the block).
    const problem = await page.evaluate(async (text) => {
      try {
        await (globalThis as unknown as { mermaid: Mermaid }).mermaid.parse(text)
        return null
      } catch (error) {
        return error instanceof Error ? error.message : String(error)
      }
    }, block.text)
    const where = `${block.file}:${block.line}`
    if (problem === null) {
      t.pass(`${where} parses`)
    } else {
      // The parser counts lines from the block's first; name the line of the file, with its excerpt.
      const [first = '', excerpt = ''] = problem
        .replace(/^Parse error on line (\d+)/, (_, line: string) => `Parse error on ${block.file}:${block.line + Number(line)}`)
        .split('\n')
      t.fail(`${where} does not parse: ${first} ${excerpt}`, { parser: problem })
    }
  }
})
