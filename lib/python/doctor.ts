import { existsSync, realpathSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { findNvtxHeaders } from '../nvtx-headers.js';
import { discoverNsys, gilSourcesOf, nsysCandidates, type NsysCandidate, type NsysProbe } from '../nsys/discover.js';
import { findNsys } from '../nsys/run.js';
import { findCollector } from '../trace/collector-path.js';
import { capture } from './exec.js';
import { inspectPython, type PythonInfo } from './inspect.js';
import { NVTX_MODULE_NAME, nvtxModuleStatus } from './nvtx-module.js';

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
 * `<nsight-systems>/host-linux-x64` there, the `.qdstrm` is never converted (nsys needs its QdstrmImporter to write a .nsys-rep).
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

function describeNsys(p: NsysCandidate & Partial<NsysProbe>): string {
  const found = `found via ${p.origins.map((o) => (o === 'opt' ? '/opt' : o)).join(', ')}`;
  const real = p.realPath === p.path ? '' : ` → ${p.realPath}`;
  if (p.version === undefined) return `${p.path}${real} (${found})`;
  if (p.version === null) return `${p.path}${real}: ${p.error} (${found})`;
  return `${p.path}${real} (${p.version}; --trace=python-gil ${p.pythonGil ? 'yes' : 'no'}; ${found})\nGIL sources: ${gilSourcesOf(p as NsysProbe).join('; ')}`;
}

/**
 * One check per nsys on the machine: the one gil-nvtx drives is `nsys`, the others `nsys (other)`, each
 * with its version and whether it traces the GIL itself. The choice is GIL_NVTX_NSYS or `--nsys`.
 */
async function nsysChecks(env: NodeJS.ProcessEnv, waitForNsys: boolean): Promise<DoctorCheck[]> {
  const checks: DoctorCheck[] = [];
  let selected: string | null = null;
  try {
    selected = findNsys(env);
  } catch (err) {
    const e = err as Error & { hint?: string };
    checks.push({ name: 'nsys', status: 'fail', detail: e.message, hint: e.hint, required: false });
  }
  // nsys runs one at a time machine-wide (scripts/nsys-locked.sh); a long profile elsewhere must not
  // make doctor hang, so unless asked to wait it only asks versions when the lock is free.
  const lock = env.GIL_NVTX_NSYS_LOCK || '/tmp/gil-nvtx-nsys.lock';
  const busy = !waitForNsys && (await capture('flock', ['-n', lock, 'true'])).code === 1;
  const found: (NsysCandidate & Partial<NsysProbe>)[] = busy ? nsysCandidates(env) : await discoverNsys(env);
  const note = busy ? ` (versions not asked: another nsys run holds ${lock})` : '';
  for (const p of found) {
    checks.push({
      name: p.selected ? 'nsys' : 'nsys (other)',
      status: p.version === null ? 'warn' : 'ok',
      detail: describeNsys(p) + (p.selected ? note : ''),
      required: false,
      hint: p.selected ? undefined : `Use it with GIL_NVTX_NSYS=${p.path} or \`--nsys ${p.path}\`.`,
    });
  }
  if (selected === null && !checks.some((c) => c.name === 'nsys')) {
    checks.unshift({
      name: 'nsys',
      status: 'warn',
      detail: found.length > 0 ? `none on PATH; ${found.length} elsewhere (below)` : 'not found (the embedded collector traces without it)',
      required: false,
      hint: found.length > 0
        ? `Choose one with GIL_NVTX_NSYS=${found[0]!.path} or \`--nsys ${found[0]!.path}\`.`
        : 'scripts/ci/install-nsys.sh installs 2022.4 from Debian non-free; scripts/ci/install-nsys-2024.sh installs 2024.2 (--trace=python-gil).',
    });
  }
  if (selected !== null) {
    const problem = qdstrmImporterProblem(selected);
    checks.push({ name: 'nsys QdstrmImporter', status: problem ? 'fail' : 'ok', detail: problem ?? 'present beside the target folder', required: false });
  }
  return checks;
}

function collectorCheck(): DoctorCheck {
  try {
    return { name: 'collector', status: 'ok', detail: findCollector(), required: false };
  } catch (err) {
    const e = err as Error & { hint?: string };
    return { name: 'collector', status: 'warn', detail: e.message.split('\n')[0]!, hint: e.hint, required: false };
  }
}

/** The NVTX module for Python code (a worker marking its jobs): not required to trace the GIL. */
async function nvtxModuleCheck(python: string, version: string, env: NodeJS.ProcessEnv, timeoutMs?: number): Promise<DoctorCheck> {
  const name = `${NVTX_MODULE_NAME} module`;
  const rebuild = `gil-nvtx build-python ${version} builds it into an interpreter it installs or reuses`;
  const m = await nvtxModuleStatus(python, { env, timeoutMs });
  if (m.path === null) return { name, status: 'warn', detail: `not importable (${m.error}): Python code cannot mark its jobs with NVTX`, hint: rebuild, required: false };
  if (m.current === false) return { name, status: 'warn', detail: `${m.path}: built from another gil-nvtx's source`, hint: rebuild, required: false };
  return { name, status: 'ok', detail: `${m.path}${m.current === null ? ' (no build stamp beside it)' : ''}`, required: false };
}

/**
 * Checks what tracing a patched CPython needs: the interpreter (when given), the NVTX headers, nsys
 * (and its QdstrmImporter link), the embedded collector.
 */
export async function runDoctor(
  python: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
  opts: { waitForNsys?: boolean; pythonTimeoutMs?: number } = {},
): Promise<DoctorReport> {
  const checks: DoctorCheck[] = [];
  let info: PythonInfo | null = null;
  if (python) {
    try {
      info = await inspectPython(python, { env, timeoutMs: opts.pythonTimeoutMs });
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
      checks.push(await nvtxModuleCheck(info.executable, info.version, env, opts.pythonTimeoutMs));
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
  checks.push(...(await nsysChecks(env, opts.waitForNsys === true)));
  checks.push(collectorCheck());
  return { ok: checks.every((c) => !c.required || c.status !== 'fail'), checks, python: info };
}
