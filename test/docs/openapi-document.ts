/** The parts of the served OpenAPI document that the docs tests read. */
export interface Response {
  description?: string
  headers?: Record<string, unknown>
  content?: Record<string, { example?: Record<string, unknown> }>
}

export interface Operation {
  operationId?: string
  summary?: string
  tags?: string[]
  security?: Array<Record<string, string[]>>
  requestBody?: { content?: Record<string, unknown> }
  responses?: Record<string, Response>
}

export interface OpenApiDocument {
  openapi: string
  info: { version: string }
  servers?: Array<{ url: string }>
  paths: Record<string, Record<string, Operation>>
  components?: { securitySchemes?: Record<string, Record<string, unknown>>, headers?: Record<string, unknown> }
}

const METHODS = new Set(['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'])

export function operationsOf (doc: OpenApiDocument): Array<{ method: string, path: string, operation: Operation }> {
  return Object.entries(doc.paths).flatMap(([path, item]) =>
    Object.entries(item).filter(([method]) => METHODS.has(method)).map(([method, operation]) => ({ method, path, operation })))
}
