// What makes a report incomplete, worded once for the text and the HTML report.
import { badRowCount } from './model.js';
import type { Report } from './types.js';

/** One sentence per reason the statistics miss part of the trace (dropped events, bad rows). */
export function incompleteWarnings(report: Report): string[] {
  const out: string[] = [];
  const dropped = report.trace.droppedEvents;
  if (dropped > 0) {
    out.push(`INCOMPLETE: ${dropped} NVTX event${dropped === 1 ? ' was' : 's were'} dropped while recording (the trace file could not grow: disk full?); the statistics below miss them`);
  }
  const b = report.validation.badRows;
  const bad = badRowCount(b);
  if (bad > 0) {
    const why = [
      b.endBeforeStart && `${b.endBeforeStart} ending before they start`,
      b.badTimestamp && `${b.badTimestamp} with a NULL or non-numeric timestamp`,
      b.noThread && `${b.noThread} without a thread id`,
      b.unendedBeforeLast && `${b.unendedBeforeLast} without an end that are not their thread's last`,
    ].filter(Boolean);
    out.push(`${bad} bad GIL row${bad === 1 ? '' : 's'} left out (${why.join(', ')}): the export is damaged or was edited; the statistics below miss them`);
  }
  return out;
}
