// Which GIL source `gil-nvtx profile` asks nsys for. A gil-nvtx patched interpreter records its GIL as
// NVTX ('CPython GIL'); nsys 2024.2 and newer can trace a stock CPython's GIL itself
// (`--trace=python-gil`, 'GIL Trace'). Asking for both on a patched interpreter records every
// transition twice and pays for both tracers, so the default picks one from what the command is and
// what the nsys can do.
import { basename } from 'node:path';
import { GilNvtxError } from '../errors.js';
import type { NsysProbe } from './discover.js';
import { hasGilNvtxSymbol } from '../python/build.js';

/** `--python-gil` (on), `--no-python-gil` (off), neither (auto). */
export type PythonGilChoice = 'auto' | 'on' | 'off';

export interface PythonGilDecision {
  enabled: boolean;
  /** One line for the progress output: what was chosen and why. */
  reason: string;
  /** Set when the run will record no GIL ranges at all, and what to do about it. */
  warning: string | null;
}

/** A CPython executable by its name (`python3`, `python3.11`, `python3.13t`, `python3.11-gil-nvtx`). */
export function looksLikePython(executable: string): boolean {
  return /^python(\d+(\.\d+)?t?)?(-|$)/.test(basename(executable));
}

const versionOf = (probe: NsysProbe): string => probe.version ?? 'version unknown';
const nsysName = (probe: NsysProbe): string => `nsys ${probe.version ?? '(version unknown)'}`;

/**
 * auto: `python-gil` when the nsys takes it, unless the command's own executable is a patched
 * interpreter (its NVTX ranges are the GIL source then). Commands that are not Python themselves (a
 * Node service starting Python workers) get it too: their stock-Python children are traced, and a
 * patched child's two sources are told apart by the report (`--gil-source`).
 */
export async function decidePythonGil(choice: PythonGilChoice, probe: NsysProbe, executable: string): Promise<PythonGilDecision> {
  const nsys = nsysName(probe);
  if (choice === 'on') {
    if (!probe.pythonGil) {
      throw new GilNvtxError(`--python-gil: ${probe.path} (${versionOf(probe)}) cannot trace the GIL itself; that needs nsys 2024.2 or newer.`, {
        hint: 'Choose a newer nsys with --nsys PATH or GIL_NVTX_NSYS (`gil-nvtx doctor` lists the installs; scripts/ci/install-nsys-2024.sh installs 2024.2), or profile a gil-nvtx patched interpreter without --python-gil.',
        exitCode: 3,
      });
    }
    return { enabled: true, reason: `GIL traced by ${nsys} (--python-gil)`, warning: null };
  }
  if (choice === 'off') return { enabled: false, reason: 'GIL from the patched interpreters only (--no-python-gil)', warning: null };
  const patched = await hasGilNvtxSymbol(executable);
  if (patched === true) {
    return { enabled: false, reason: `GIL from ${basename(executable)}'s own NVTX ranges (a gil-nvtx patched interpreter)`, warning: null };
  }
  if (probe.pythonGil) {
    return { enabled: true, reason: `GIL traced by ${nsys} itself (--trace=python-gil; --no-python-gil turns it off)`, warning: null };
  }
  if (looksLikePython(executable) && patched === false) {
    return {
      enabled: false,
      reason: `${nsys} cannot trace the GIL itself`,
      warning:
        `${executable} is not a gil-nvtx patched interpreter and ${nsys} cannot trace the GIL of a stock CPython (that needs 2024.2 or newer): ` +
        'this profile will hold no GIL ranges. Build a patched interpreter (`gil-nvtx build-python`) or choose a newer nsys (--nsys PATH; `gil-nvtx doctor` lists them).',
    };
  }
  return { enabled: false, reason: `GIL from patched interpreters only (${nsys} cannot trace the GIL itself)`, warning: null };
}

/**
 * `--python-sampling`: nsys's Python backtrace sampling (its own sampler: CPU sampling stays off, which
 * is what hangs 2022.4). nsys 2024.2 keeps those samples in the `.nsys-rep` for its GUI; neither its
 * SQLite nor its JSON export carries them (only their function and file names, in the string table),
 * so the report cannot use them. It names Python code through the patch's location marks instead.
 */
export function pythonSamplingArgs(hz: number | null, probe: NsysProbe): string[] {
  if (hz === null) return [];
  if (!probe.pythonSampling) {
    throw new GilNvtxError(`--python-sampling: ${probe.path} (${versionOf(probe)}) has no Python backtrace sampling; that needs nsys 2024.2 or newer.`, {
      hint: 'Choose a newer nsys with --nsys PATH or GIL_NVTX_NSYS (`gil-nvtx doctor` lists the installs).',
      exitCode: 3,
    });
  }
  return ['--python-sampling=true', `--python-sampling-frequency=${hz}`];
}
