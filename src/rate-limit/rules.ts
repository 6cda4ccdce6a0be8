/**
 * The per-IP rate-limit rules of the `/auth/*` routes. Each route names its rule in its
 * route config (`config.rateLimit.groupId`); routes of one rule share one counter per
 * address, so a client cannot double its budget by alternating `/auth/login` and
 * `/auth/token`. The numbers come from the configuration (RATE_LIMIT_<RULE>_MAX).
 */
export const RATE_LIMIT_RULES = ['signin', 'register', 'refresh', 'sessions', 'introspect'] as const
export type RateLimitRule = typeof RATE_LIMIT_RULES[number]

/** Production defaults: requests per address per window (RATE_LIMIT_WINDOW_SECONDS, 60 s). */
export const DEFAULT_RATE_LIMITS: Record<RateLimitRule, number> = {
  // /auth/login and /auth/token: password guessing and credential stuffing.
  signin: 20,
  // /auth/register: account creation (and the argon2 hash it costs).
  register: 10,
  // /auth/refresh: a front end refreshes every few minutes; tabs and devices behind one NAT add up.
  refresh: 60,
  // /auth/logout, /auth/sessions, /auth/revoke: cheap, signed-in housekeeping.
  sessions: 120,
  // /auth/introspect: resource servers calling on behalf of their own traffic.
  introspect: 3000
}

/** The route config of a route limited by `rule`: `{ config: rateLimited('signin') }`. */
export function rateLimited (rule: RateLimitRule): { rateLimit: { groupId: RateLimitRule } } {
  return { rateLimit: { groupId: rule } }
}
