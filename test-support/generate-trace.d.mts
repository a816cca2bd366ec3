export interface GenerateOptions {
  holds?: number;
  threads?: number;
  seed?: number;
  pid?: number;
  nodePid?: number;
  longHoldNs?: number;
  longHold?: boolean;
  gilDomainId?: number;
  interpreterId?: number;
  registered?: boolean;
  threadName?: string;
  processName?: string;
  overlapEvery?: number;
  openFinalHold?: boolean;
  badNames?: boolean;
  shuffle?: boolean;
  sched?: boolean;
  collector?: boolean;
}
export interface GeneratedTrace {
  path: string;
  nvtxRows: number;
  holds: number;
  overlaps: number;
  planted: { tid: number; start: number; end: number } | null;
  pid: number;
  nodePid: number;
  mainTid: number;
  workerTids: number[];
  writerTid: number;
  longHolder: number;
  traceEnd: number;
}
export function globalTid(pid: number, tid: number): number;
export function generateTrace(path: string, options?: GenerateOptions): GeneratedTrace;
