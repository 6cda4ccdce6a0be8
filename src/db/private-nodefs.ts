import { NodeFS } from '@electric-sql/pglite/nodefs'

type InitArguments = Parameters<NodeFS['init']>
type InitResult = Awaited<ReturnType<NodeFS['init']>>

interface NodeFsOperations {
  mknod: (parent: unknown, name: string, mode: number, dev: number) => unknown
  setattr: (node: unknown, attr: { mode?: number | null }) => void
}

/** Group and other bits: never set on anything in the data directory. */
const NOT_OWNER = 0o077

/**
 * PGlite's NodeFS, writing nothing that group or others may read or write. Emscripten's
 * NODEFS does not pass PostgreSQL's modes through: it creates each file 0777 & ~umask and then
 * chmods it to the requested mode less Emscripten's own umask (022, out of our reach). So
 * initdb's files come out 0666 and fopen()ed ones (pg_internal.init) 0644 whatever the
 * process umask: a process-wide umask 077 would not help, it only narrows the moment between
 * the two calls. Every mode of a file or directory there passes NODEFS's mknod and setattr
 * (chmod, fchmod), so the group and other bits are removed there.
 */
export class PrivateNodeFS extends NodeFS {
  override async init (...[pg, options]: InitArguments): Promise<InitResult> {
    const result = await super.init(pg, options)
    // Before NodeFS's own preRun step mounts the directory.
    result.emscriptenOpts.preRun = [(mod) => { withoutGroupAndOther(mod.NODEFS) }, ...result.emscriptenOpts.preRun ?? []]
    return result
  }
}

function withoutGroupAndOther (nodefs: unknown): void {
  const { node_ops: nodeOps, stream_ops: streamOps } = nodefs as { node_ops?: Partial<NodeFsOperations>, stream_ops?: Partial<NodeFsOperations> }
  const { mknod } = nodeOps ?? {}
  const setattrs = [nodeOps, streamOps].map((ops) => ops?.setattr)
  if (nodeOps === undefined || streamOps === undefined || mknod === undefined || setattrs.includes(undefined)) {
    // Refuse rather than write world-readable files: this PGlite's NODEFS is not the one this was written for.
    throw new Error('PGlite\'s NODEFS has no mknod/setattr to wrap: cannot keep DATA_DIR private with this PGlite version')
  }
  nodeOps.mknod = (parent, name, mode, dev) => mknod.call(nodeOps, parent, name, mode & ~NOT_OWNER, dev)
  for (const ops of [nodeOps, streamOps]) {
    const setattr = ops.setattr as NodeFsOperations['setattr']
    ops.setattr = (node, attr) => {
      setattr.call(ops, node, typeof attr.mode === 'number' ? { ...attr, mode: attr.mode & ~NOT_OWNER } : attr)
    }
  }
}
