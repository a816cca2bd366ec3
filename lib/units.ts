// Durations ('30s', '100ms', '2m', '1h', '1.5s') and sizes ('512M', '64KiB', '1G', '4096') as the CLI
// takes them. Sizes count in powers of 1024 (K, M, G, T, with or without 'i' and 'B'); a bare number is
// bytes. Durations need their unit, since a bare number could mean seconds or milliseconds.

const DURATION_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
const SIZE_BYTES: Record<string, number> = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 };

/** Milliseconds of a duration like '30s'; null when it is not one. */
export function parseDurationMs(text: string): number | null {
  const m = /^(\d+(?:\.\d+)?|\.\d+)(ms|s|m|h)$/.exec(text.trim());
  if (!m) return null;
  const ms = Number(m[1]) * DURATION_MS[m[2]!]!;
  return Number.isFinite(ms) ? Math.round(ms) : null;
}

/** Bytes of a size like '512M'; null when it is not one. */
export function parseSizeBytes(text: string): number | null {
  const m = /^(\d+(?:\.\d+)?|\.\d+)\s*(?:([kmgt])(?:i?b)?|b)?$/i.exec(text.trim());
  if (!m) return null;
  const bytes = Number(m[1]) * SIZE_BYTES[(m[2] ?? '').toLowerCase()]!;
  return Number.isSafeInteger(Math.floor(bytes)) ? Math.floor(bytes) : null;
}

/** '1.5 s', '300 ms', '2 min' for messages. */
export function formatDurationMs(ms: number): string {
  if (ms < 1000) return `${ms} ms`;
  if (ms < 120_000) return `${ms / 1000} s`;
  return `${Math.round(ms / 60_000)} min`;
}

/** '512 MiB' for messages. */
export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = bytes;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${Number.isInteger(v) ? v : v.toFixed(1)} ${units[u]}`;
}
