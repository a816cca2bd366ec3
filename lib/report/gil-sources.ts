// Where a trace's GIL ranges come from. Two producers write the same two messages, "Waiting for GIL"
// and "Holding GIL", into NVTX domains of their own:
//  - the gil-nvtx patch: domain 'CPython GIL', push/pop or start/end ranges with the interpreter id as
//    payload, a 'GIL drop request' mark, and a wait for every take_gil, blocked or not;
//  - nsys 2024.2+ `--trace=python-gil` on a stock CPython: domain 'GIL Trace', push/pop ranges without
//    payload or marks. It records far fewer waits than holds (10 waits for 856 holds where the patch,
//    in the same run, recorded 856 of each): it records a wait only when the acquisition blocked.
// A patched interpreter under `--trace=python-gil,nvtx` has both, describing the same holds twice, so the
// report analyses one source per run and keeps the other's rows out of everything else (they are not
// "other NVTX ranges" either).
import { GilNvtxError } from '../errors.js';
import { GIL_DOMAIN } from '../gil-contract.js';
import type { GilSourceReport } from './types.js';

export type GilSourceId = 'patch' | 'nsys';
/** What `--gil-source` takes; `auto` picks the patch's ranges when present (they carry more). */
export type GilSourceRequest = GilSourceId | 'auto';
export const GIL_SOURCE_REQUESTS: readonly GilSourceRequest[] = ['auto', 'patch', 'nsys'];

export const NSYS_GIL_DOMAIN = 'GIL Trace';

export interface GilSourceKind {
  id: GilSourceId;
  domain: string;
  label: string;
  /** What the ranges carry beyond start, end and thread; the analyses that need one say so when it is missing. */
  carries: GilSourceReport['carries'];
  /** One sentence per thing missing, and what it means for the numbers printed. */
  gaps: string[];
}

export const GIL_SOURCE_KINDS: Record<GilSourceId, GilSourceKind> = {
  patch: {
    id: 'patch',
    domain: GIL_DOMAIN,
    label: `gil-nvtx's CPython patch (NVTX domain '${GIL_DOMAIN}')`,
    carries: { interpreterId: true, dropRequests: true, unblockedWaits: true },
    gaps: [],
  },
  nsys: {
    id: 'nsys',
    domain: NSYS_GIL_DOMAIN,
    label: `nsys --trace=python-gil (NVTX domain '${NSYS_GIL_DOMAIN}')`,
    carries: { interpreterId: false, dropRequests: false, unblockedWaits: false },
    gaps: [
      'interpreter ids: every interpreter of a process counts as one GIL (3.12+ subinterpreters with a GIL of their own would show as overlapping holds)',
      'drop requests: forced switches are unknown, not zero',
      'waits that did not block: wait counts and percentiles cover blocked acquisitions only, so most holds have no wait before them',
      'free-threaded builds: nsys does not trace their GIL at all',
    ],
  },
};

export interface DomainRow {
  domainId: number;
  pid: number;
  name: string | null;
}

export interface GilSourceChoice {
  kind: GilSourceKind;
  /** The chosen source's domain in each process that has it. */
  domains: DomainRow[];
  /** Sources present but not analysed, with their domains. */
  others: { kind: GilSourceKind; domains: DomainRow[] }[];
  /** Every GIL domain of every source: rows to keep out of the non-GIL analyses. */
  allGilDomains: DomainRow[];
}

export function parseGilSource(value: string | undefined): GilSourceRequest {
  if (value === undefined) return 'auto';
  if ((GIL_SOURCE_REQUESTS as readonly string[]).includes(value)) return value as GilSourceRequest;
  throw new GilNvtxError(`--gil-source wants one of ${GIL_SOURCE_REQUESTS.join(', ')}, not '${value}'.`, { exitCode: 2 });
}

/**
 * The GIL domains of `wanted` among the trace's domains; null when the trace has no GIL domain at all
 * (the caller words that error, it knows more about the file). A source asked for but absent is an error.
 */
export function chooseGilSource(domains: DomainRow[], wanted: GilSourceRequest, source: string): GilSourceChoice | null {
  const present = (['patch', 'nsys'] as const)
    .map((id) => ({ kind: GIL_SOURCE_KINDS[id], domains: domains.filter((d) => d.name === GIL_SOURCE_KINDS[id].domain) }))
    .filter((p) => p.domains.length > 0);
  if (present.length === 0) return null;
  const chosen = wanted === 'auto' ? present[0]! : present.find((p) => p.kind.id === wanted);
  if (!chosen) {
    const kind = GIL_SOURCE_KINDS[wanted as GilSourceId];
    throw new GilNvtxError(`${source} has no '${kind.domain}' NVTX domain, so it holds no GIL ranges from ${kind.label.replace(/ \(NVTX domain .*\)$/, '')}.`, {
      hint: `It has ${present.map((p) => `'${p.kind.domain}' (--gil-source ${p.kind.id})`).join(' and ')}.`,
      exitCode: 3,
    });
  }
  return {
    kind: chosen.kind,
    domains: chosen.domains,
    others: present.filter((p) => p !== chosen),
    allGilDomains: present.flatMap((p) => p.domains),
  };
}
