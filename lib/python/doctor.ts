import { existsSync, realpathSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { findNvtxHeaders } from '../nvtx-headers.js';
import { NSYS_LOCKED, findNsys } from '../nsys/run.js';
import { capture } from './exec.js';
import { inspectPython, type PythonInfo } from './inspect.js';

export type CheckStatus = 'ok' | 'warn' | 'fail';

export interface DoctorCheck {
  name: string;
  status: CheckStatus;
  detail: string;
  /** Required checks make `doctor` exit non-zero when they fail. */
  required: boolean;
  hint?: string;
}

export interface DoctorReport {
  ok: boolean;
  checks: DoctorCheck[];
  python: PythonInfo | null;
}

/**
 * nsys 2022.4 from Debian looks for its host tools beside the resolved target folder; without
 * `<nsight-systems>/host-linux-x64` there, the `.qdstrm` is never converted (notes/nsys.md §1).
 */
export function qdstrmImporterProblem(nsys: string): string | null {
  let real: string;
  try {
    real = realpathSync(nsys);
  } catch {
    return null;
  }
  const root = dirname(dirname(real));
  const beside = join(root, 'host-linux-x64', 'QdstrmImporter');
  if (existsSync(beside)) return null;
  const debianHost = '/usr/lib/nsight-systems/host-linux-x64';
  if (dirname(real).endsWith('target-linux-x64') && existsSync(join(debianHost, 'QdstrmImporter'))) {
    return `QdstrmImporter is not beside ${dirname(real)}; nsys will leave a .qdstrm and no .nsys-rep. Fix: ln -sfn ${debianHost} ${join(root, 'host-linux-x64')}`;
  }
  return `QdstrmImporter not found at ${beside}; nsys may produce no .nsys-rep.`;
}

async function collectorCheck(): Promise<DoctorCheck> {
  // lib/trace belongs to the collector part; loaded by name so doctor works without it.
  const spec = '../trace/collector-path.js';
  try {
    const mod = (await import(spec)) as { findCollector(): string };
    return { name: 'collector', status: 'ok', detail: mod.findCollector(), required: false };
  } catch (err) {
    const e = err as Error & { hint?: string };
    return { name: 'collector', status: 'warn', detail: e.message.split('\n')[0]!, hint: e.hint, required: false };
  }
}

/**
 * Checks what tracing a patched CPython needs: the interpreter (when given), the NVTX headers, nsys
 * (and its QdstrmImporter link), the embedded collector.
 */
export async function runDoctor(
  python: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
  opts: { waitForNsys?: boolean } = {},
): Promise<DoctorReport> {
  const checks: DoctorCheck[] = [];
  let info: PythonInfo | null = null;
  if (python) {
    try {
      info = await inspectPython(python);
      checks.push({ name: 'python', status: 'ok', detail: `${info.executable}: CPython ${info.version}${info.freeThreaded ? ' free-threaded' : ''}`, required: true });
      checks.push({
        name: 'patched',
        status: info.patched ? 'ok' : 'fail',
        detail: info.patched
          ? `exports _Py_gil_nvtx_version${info.patchVersion ? ` = "${info.patchVersion}"` : ' (nm)'}`
          : 'no _Py_gil_nvtx_version symbol: this interpreter emits no GIL ranges',
        hint: info.patched ? undefined : `Build one: gil-nvtx build-python ${info.version}`,
        required: true,
      });
      checks.push({
        name: 'build stamp',
        status: info.stamp ? 'ok' : 'warn',
        detail: info.stamp
          ? `${join(info.prefix, 'gil-nvtx-build.json')}: ${info.stamp.version}, patch sha256 ${info.stamp.patchSha256.slice(0, 12)}…, NVTX ${info.stamp.nvtxIncludeDir}`
          : `none in ${info.prefix} (not built by gil-nvtx build-python)`,
        required: false,
      });
      checks.push({
        name: 'free-threading',
        status: 'ok',
        detail: info.freeThreaded ? `free-threaded build; GIL ${info.gilEnabled ? 'enabled' : 'disabled'} in this run (PYTHON_GIL=1 enables it)` : 'default (GIL) build',
        required: false,
      });
    } catch (err) {
      const e = err as Error & { hint?: string };
      checks.push({ name: 'python', status: 'fail', detail: e.message, hint: e.hint, required: true });
    }
  }
  try {
    const h = findNvtxHeaders(env);
    checks.push({ name: 'NVTX headers', status: 'ok', detail: `${h.includeDir} (${h.source})`, required: true });
  } catch (err) {
    checks.push({ name: 'NVTX headers', status: 'fail', detail: (err as Error).message, required: true });
  }
  const nsys = findNsys(env);
  if (!nsys) {
    checks.push({ name: 'nsys', status: 'warn', detail: 'not found on PATH (the embedded collector traces without it)', required: false, hint: 'scripts/ci/install-nsys.sh installs Nsight Systems from Debian non-free.' });
  } else {
    // nsys runs one at a time machine-wide (scripts/nsys-locked.sh); a long profile elsewhere must not
    // make doctor hang, so unless asked to wait it only asks for the version when the lock is free.
    const lock = env.GIL_NVTX_NSYS_LOCK || '/tmp/gil-nvtx-nsys.lock';
    const busy = !opts.waitForNsys && (await capture('flock', ['-n', lock, 'true'])).code === 1;
    if (busy) {
      checks.push({ name: 'nsys', status: 'ok', detail: `${nsys} (version not asked: another nsys run holds ${lock})`, required: false });
    } else {
      const v = await capture(NSYS_LOCKED, ['60', '--version'], { env: { ...env, GIL_NVTX_NSYS: nsys }, timeoutMs: 90_000 });
      const version = /(\d{4}\.\d+\.\d+(?:\.\d+)?)/.exec(v.stdout)?.[1];
      checks.push({ name: 'nsys', status: version ? 'ok' : 'warn', detail: version ? `${nsys} (${version})` : `${nsys}: --version failed`, required: false });
    }
    const problem = qdstrmImporterProblem(nsys);
    checks.push({ name: 'nsys QdstrmImporter', status: problem ? 'fail' : 'ok', detail: problem ?? 'present beside the target folder', required: false });
  }
  checks.push(await collectorCheck());
  return { ok: checks.every((c) => !c.required || c.status !== 'fail'), checks, python: info };
}
