#!/usr/bin/env node
import { runCli } from './cli/run.js'

// The `user-service` command; all logic is in runCli so tests can run it in-process.
process.exitCode = await runCli(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  stdin: process.stdin,
  env: process.env
}, { dotenv: true })
