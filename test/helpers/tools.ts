import { findNsys } from '../../lib/nsys/run.js';

/**
 * Tests that need a real tool (nsys, a patched interpreter, Chromium) run when it is present. CI sets
 * GIL_NVTX_REQUIRE_NSYS=1 (and friends), which turns a missing tool into a failure instead of a skip,
 * so a green CI always means the tool-backed tests ran.
 */
export function toolGate(tool: string, available: boolean, requireVar: string): { skip: boolean; reason: string } {
  if (available) return { skip: false, reason: '' };
  if (process.env[requireVar] === '1') {
    throw new Error(`${tool} is required (${requireVar}=1) but was not found`);
  }
  return { skip: true, reason: `${tool} not found; set ${requireVar}=1 to make this a failure` };
}

export const nsysPath = findNsys();
export const nsysGate = toolGate('nsys', nsysPath !== null, 'GIL_NVTX_REQUIRE_NSYS');

/**
 * An nsys that takes `--trace=python-gil` (2024.2 and newer), found as `gil-nvtx doctor` finds them:
 * GIL_NVTX_NSYS, PATH, /opt/nsight-systems-*, Debian's. Asking runs nsys, so it is a call, not a constant.
 */
export async function pythonGilNsys(): Promise<string | null> {
  const { discoverNsys } = await import('../../lib/nsys/discover.js');
  return (await discoverNsys()).find((p) => p.pythonGil)?.path ?? null;
}

/** A tool missing in beforeAll: the reason to skip, or (with `requireVar`=1) an Error that fails the tests. */
export function missingTool(tool: string, requireVar: string): string {
  if (process.env[requireVar] === '1') throw new Error(`${tool} is required (${requireVar}=1) but was not found`);
  return `${tool} not found; set ${requireVar}=1 to make this a failure`;
}

/** 1-based number of the one line of `text` that contains `needle`; throws unless exactly one does. */
export function lineContaining(text: string, needle: string): number {
  const lines = text.split('\n');
  const hits = lines.flatMap((l, i) => (l.includes(needle) ? [i + 1] : []));
  if (hits.length !== 1) throw new Error(`expected one line with ${JSON.stringify(needle)}, found ${hits.length}`);
  return hits[0]!;
}
