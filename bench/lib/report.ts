import type { HealthResult, HostileResult, LoginResult, MeResult, RefreshResult, RegisterResult } from '../scenarios.js'

export interface ScenarioResults {
  me?: MeResult
  login?: LoginResult
  register?: RegisterResult
  refresh?: RefreshResult
  health?: HealthResult
  hostile?: HostileResult
}

export interface Memory { idleMiB: number | null, peakMiB: number | null, afterMiB: number | null }

export interface Target { name: string, target: string, value: number, met: boolean }

/** The targets (they are stated for PostgreSQL on the 2-core machine). */
export function evaluateTargets (results: ScenarioResults): Target[] {
  const targets: Target[] = []
  if (results.me !== undefined) targets.push({ name: 'users/me vs bare route', target: '>= 0.40', value: results.me.ratio, met: results.me.ratio >= 0.4 })
  if (results.login !== undefined) targets.push({ name: 'logins vs argon2.verify', target: '>= 0.90', value: results.login.ratio, met: results.login.ratio >= 0.9 })
  if (results.health !== undefined) targets.push({ name: '/health p99 during login storm (ms)', target: '<= 10', value: results.health.storm.p99, met: results.health.storm.p99 <= 10 })
  if (results.hostile !== undefined) {
    // One 869 KB JSON.parse blocks the event loop for tens of ms: that, not more, is the bound.
    const p50 = results.hostile.underAttack.p50
    targets.push({ name: '/health p50 during hostile bodies (ms)', target: '<= 100', value: p50, met: p50 <= 100 })
  }
  if (results.refresh?.available === true) {
    targets.push({ name: 'refreshes/s', target: '>= 1500', value: results.refresh.service.rps, met: results.refresh.service.rps >= 1500 })
  }
  return targets
}

const fmt = (value: number, digits = 0): string => value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits })
const ms = (value: number): string => fmt(value, 2)
const mib = (value: number | null): string => value === null ? 'n/a' : `${fmt(value, 1)} MiB`

type Row = [string, string, string, string, string, string]

/** The result table, one string per line (the same lines go into the JSON file). */
export function formatTable (results: ScenarioResults, memory: Memory, targets: Target[]): string[] {
  const verdict = (name: string): string => {
    const target = targets.find((entry) => entry.name === name)
    return target === undefined ? '' : `${target.target} ${target.met ? 'met' : 'MISSED'}`
  }
  const rows: Row[] = [['scenario', 'metric', 'service', 'baseline', 'ratio', 'target']]
  const { me, login, register, refresh, health, hostile } = results
  if (me !== undefined) {
    rows.push(['GET /api/v1/users/me', 'req/s', fmt(me.service.rps), `${fmt(me.bare.rps)} (bare fastify)`, fmt(me.ratio, 2), verdict('users/me vs bare route')])
    rows.push(['GET /health (no JWT, no db)', 'req/s', fmt(me.health.rps), `${fmt(me.bare.rps)} (bare fastify)`, fmt(me.healthRatio, 2), ''])
    rows.push(['GET /api/v1/users/me', 'p50 / p99 ms', `${ms(me.service.p50)} / ${ms(me.service.p99)}`, `${ms(me.bare.p50)} / ${ms(me.bare.p99)}`, '', ''])
  }
  if (login !== undefined) {
    rows.push(['password-grant login', 'logins/s', fmt(login.service.rps, 1), `${fmt(login.argon2.perSecond, 1)} (argon2.verify)`, fmt(login.ratio, 2), verdict('logins vs argon2.verify')])
    rows.push(['password-grant login', 'p50 / p99 ms', `${ms(login.service.p50)} / ${ms(login.service.p99)}`, '', '', ''])
  }
  if (register !== undefined) {
    rows.push(['registration', 'registrations/s', fmt(register.service.rps, 1), '', '', ''])
  }
  if (refresh !== undefined) {
    rows.push(refresh.available
      ? ['refresh', 'refreshes/s', fmt(refresh.service.rps), '', '', verdict('refreshes/s')]
      : ['refresh', 'refreshes/s', refresh.note, '', '', ''])
  }
  if (health !== undefined) {
    rows.push(['/health during login storm', 'p50 / p99 ms', `${ms(health.storm.p50)} / ${ms(health.storm.p99)}`,
      `${ms(health.idle.p50)} / ${ms(health.idle.p99)} (idle)`, '', verdict('/health p99 during login storm (ms)')])
    rows.push(['/health during login storm', 'logins/s', fmt(health.stormLogins.rps, 1), '', '', ''])
  }
  if (hostile !== undefined) {
    rows.push(['/health during 80,000-field bodies', 'p50 / p99 ms', `${ms(hostile.underAttack.p50)} / ${ms(hostile.underAttack.p99)}`,
      `${ms(hostile.idle.p50)} / ${ms(hostile.idle.p99)} (idle)`, '', verdict('/health p50 during hostile bodies (ms)')])
    rows.push(['80,000-field bodies (2 clients)', '400s/s', fmt(hostile.hostile.rps, 1),
      `${fmt(hostile.answerBytes)} bytes per answer`, '', ''])
  }
  rows.push(['service memory', 'RSS idle / peak', `${mib(memory.idleMiB)} / ${mib(memory.peakMiB)}`, `${mib(memory.afterMiB)} (idle after)`, '', ''])
  const widths = rows[0]?.map((_, column) => Math.max(...rows.map((row) => row[column]?.length ?? 0))) ?? []
  const line = (row: Row): string => row.map((cell, column) => cell.padEnd(widths[column] ?? 0)).join('  ').trimEnd()
  return [line(rows[0] as Row), widths.map((width) => '-'.repeat(width)).join('  '), ...rows.slice(1).map(line)]
}

/** Non-2xx responses and socket errors per scenario: a fast run of errors is not a result. */
export function errorSummary (results: ScenarioResults): string[] {
  const runs: Array<[string, { non2xx: number, errors: number, statusCodes: Record<string, number> } | undefined]> = [
    ['users/me', results.me?.service], ['bare', results.me?.bare], ['health', results.me?.health], ['login', results.login?.service],
    ['register', results.register?.service], ['refresh', results.refresh?.available === true ? results.refresh.service : undefined],
    ['health idle', results.health?.idle], ['health storm', results.health?.storm], ['storm logins', results.health?.stormLogins],
    ['health idle (hostile)', results.hostile?.idle], ['health under hostile bodies', results.hostile?.underAttack]
  ]
  return runs.flatMap(([name, run]) => run === undefined || (run.non2xx === 0 && run.errors === 0)
    ? []
    : [`${name}: ${run.non2xx} non-2xx, ${run.errors} errors, status codes ${JSON.stringify(run.statusCodes)}`])
}
