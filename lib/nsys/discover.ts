// Every Nsight Systems install this machine has, and what each can record. Sites keep old releases
// beside new ones (2022.4 from Debian, 2024.2+ unpacked under /opt), and only 2024.2 and newer can trace
// the GIL of a stock CPython themselves (`--trace=python-gil`), so which nsys runs decides which GIL
// sources a trace can hold.
import { accessSync, constants, readdirSync, realpathSync, statSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { capture } from '../python/exec.js';
import { NSYS_LOCKED, findNsys } from './run.js';

/** Where an nsys was found; one install found several ways lists each. */
export type NsysOrigin = 'GIL_NVTX_NSYS' | 'PATH' | 'opt' | 'debian';

export interface NsysCandidate {
  /** The path as found (the first way it was found). */
  path: string;
  /** The file it resolves to; installs are told apart by this. */
  realPath: string;
  origins: NsysOrigin[];
  /** The nsys gil-nvtx runs (GIL_NVTX_NSYS, else the first on PATH). */
  selected: boolean;
}

export interface NsysProbe extends NsysCandidate {
  /** `2024.2.3.38`; null when `--version` failed (the message is in `error`). */
  version: string | null;
  /** `nsys profile --trace=python-gil`: nsys records the GIL of an unpatched CPython itself. */
  pythonGil: boolean;
  /** `--python-sampling`: Python backtrace sampling. */
  pythonSampling: boolean;
  error: string | null;
}

/** Folders where an nsys is looked for besides GIL_NVTX_NSYS and PATH (globs are expanded one level). */
const OPT_PATTERNS = [
  // scripts/ci/install-nsys-2024.sh's layout: host-linux-x64 and target-linux-x64 side by side.
  { root: '/opt', prefix: 'nsight-systems-', tail: ['target-linux-x64', 'nsys'] },
  // NVIDIA's own installers put each release under /opt/nvidia/nsight-systems/<version>/.
  { root: '/opt/nvidia/nsight-systems', prefix: '', tail: ['bin', 'nsys'] },
];
const DEBIAN_PATHS = ['/usr/lib/nsight-systems/bin/nsys', '/usr/lib/x86_64-linux-gnu/nsight-systems/target-linux-x64/nsys'];

function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

function entries(dir: string): string[] {
  try {
    return readdirSync(dir).sort();
  } catch {
    return [];
  }
}

/** Where to look besides GIL_NVTX_NSYS and PATH; tests point these at folders of their own. */
export interface NsysSearchRoots {
  opt?: { root: string; prefix: string; tail: string[] }[];
  debian?: string[];
}

/** Every nsys on this machine, found without running any (cheap: file system only). */
export function nsysCandidates(env: NodeJS.ProcessEnv = process.env, roots: NsysSearchRoots = {}): NsysCandidate[] {
  const found: NsysCandidate[] = [];
  let selectedReal: string | null = null;
  try {
    const sel = findNsys(env);
    if (sel) selectedReal = realpathSync(sel);
  } catch {
    /* a bad GIL_NVTX_NSYS: nothing is selected, and the candidate below says why */
  }
  const add = (path: string, origin: NsysOrigin) => {
    if (!executable(path)) return;
    const realPath = realpathSync(path);
    const seen = found.find((c) => c.realPath === realPath);
    if (seen) {
      if (!seen.origins.includes(origin)) seen.origins.push(origin);
      return;
    }
    found.push({ path, realPath, origins: [origin], selected: realPath === selectedReal });
  };
  if (env.GIL_NVTX_NSYS) add(env.GIL_NVTX_NSYS, 'GIL_NVTX_NSYS');
  for (const dir of (env.PATH ?? '').split(delimiter)) if (dir) add(join(dir, 'nsys'), 'PATH');
  for (const p of roots.opt ?? OPT_PATTERNS) {
    for (const name of entries(p.root)) if (name.startsWith(p.prefix)) add(join(p.root, name, ...p.tail), 'opt');
  }
  for (const path of roots.debian ?? DEBIAN_PATHS) add(path, 'debian');
  return found;
}

/** `nsys --version` → `2024.2.3.38`. */
export function parseNsysVersion(text: string): string | null {
  return /(\d{4}\.\d+\.\d+(?:\.\d+)?)/.exec(text)?.[1] ?? null;
}

/**
 * Asks one nsys its version and whether `profile` takes the Python switches, through
 * scripts/nsys-locked.sh like every nsys run. Feature-detected from `profile --help`, never assumed
 * from the version number.
 */
export async function probeNsys(candidate: NsysCandidate, env: NodeJS.ProcessEnv = process.env): Promise<NsysProbe> {
  const run = (args: string[]) => capture(NSYS_LOCKED, ['60', ...args], { env: { ...env, GIL_NVTX_NSYS: candidate.path }, timeoutMs: 90_000 });
  const v = await run(['--version']);
  const version = parseNsysVersion(v.stdout);
  if (!version) {
    const said = (v.stderr || v.stdout).trim().split('\n').slice(-1)[0] ?? '';
    return { ...candidate, version: null, pythonGil: false, pythonSampling: false, error: `--version failed (exit ${v.code})${said ? `: ${said}` : ''}` };
  }
  const help = await run(['profile', '--help']);
  return {
    ...candidate,
    version,
    pythonGil: /\bpython-gil\b/.test(help.stdout),
    pythonSampling: /--python-sampling\b/.test(help.stdout),
    error: null,
  };
}

/** Every nsys on the machine, probed one after another (nsys runs one at a time anyway). */
export async function discoverNsys(env: NodeJS.ProcessEnv = process.env, roots: NsysSearchRoots = {}): Promise<NsysProbe[]> {
  const probes: NsysProbe[] = [];
  for (const c of nsysCandidates(env, roots)) probes.push(await probeNsys(c, env));
  return probes;
}

/** The GIL sources a trace recorded by this nsys can hold, for people choosing one. */
export function gilSourcesOf(probe: NsysProbe): string[] {
  const sources = ["'CPython GIL' (a gil-nvtx patched interpreter, with -t nvtx)"];
  if (probe.pythonGil) sources.push("'GIL Trace' (any CPython >= 3.9 but free-threaded builds, with --trace=python-gil)");
  return sources;
}
