/** True when dist/ under `root` (the repository by default) is missing or older than a source. */
export function buildIsStale (root?: string): boolean
/** Runs tsc and stamps the build; returns tsc's exit status. */
export function build (): number
