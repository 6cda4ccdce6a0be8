import { createHmac, sign } from 'node:crypto'

/** Hand-made JWTs for attacking the verifier: any header, any payload, any key. */
export function encodeSegment (value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url')
}

export function signRs256 (header: Record<string, unknown>, payload: Record<string, unknown>, privateKeyPem: string): string {
  const input = `${encodeSegment(header)}.${encodeSegment(payload)}`
  return `${input}.${sign('sha256', Buffer.from(input), privateKeyPem).toString('base64url')}`
}

export function signHs256 (header: Record<string, unknown>, payload: Record<string, unknown>, secret: string): string {
  const input = `${encodeSegment(header)}.${encodeSegment(payload)}`
  return `${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`
}

export function decodeJwt (token: string): { header: Record<string, unknown>, payload: Record<string, unknown> } {
  const [header, payload] = token.split('.')
  return {
    header: JSON.parse(Buffer.from(header ?? '', 'base64url').toString('utf8')) as Record<string, unknown>,
    payload: JSON.parse(Buffer.from(payload ?? '', 'base64url').toString('utf8')) as Record<string, unknown>
  }
}
