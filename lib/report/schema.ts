// Which tables and columns this export has. nsys versions differ (tables appear and disappear with the
// chosen -t/--cpuctxsw switches; newer exports add or rename columns), and the collector writes a subset
// plus its own GILNVTX_* tables. Everything else in lib/report builds SQL from what is found here.
import type { Database } from 'better-sqlite3';
import { GilNvtxError } from '../errors.js';

export interface TraceSchema {
  tables: Set<string>;
  columns: Map<string, Set<string>>;
  /** SQL expression for the NVTX payload, over whichever payload columns exist. */
  nvtxPayload: string;
  /** Registered strings (`textId` → StringIds) and inline text (`text`): at least one exists. */
  nvtxHasTextId: boolean;
  nvtxHasText: boolean;
  nvtxHasEndGlobalTid: boolean;
}

const REQUIRED_NVTX_COLUMNS = ['start', 'end', 'eventType', 'globalTid', 'domainId'];

export function tableColumns(db: Database, table: string): Set<string> {
  const rows = db.prepare(`PRAGMA table_info("${table.replace(/"/g, '""')}")`).all() as { name: string }[];
  return new Set(rows.map((r) => r.name));
}

export function detectSchema(db: Database, source: string): TraceSchema {
  const names = db.prepare("SELECT name FROM sqlite_master WHERE type IN ('table', 'view')").pluck().all() as string[];
  const tables = new Set(names);
  const columns = new Map<string, Set<string>>();
  for (const t of ['NVTX_EVENTS', 'StringIds', 'ThreadNames', 'PROCESSES', 'OSRT_API', 'SCHED_EVENTS', 'GILNVTX_HOLD_SAMPLES', 'GILNVTX_META', 'ANALYSIS_DETAILS', 'EXPORT_META_DATA', 'META_DATA_EXPORT']) {
    if (tables.has(t)) columns.set(t, tableColumns(db, t));
  }
  const nvtx = columns.get('NVTX_EVENTS');
  if (!nvtx) {
    throw new GilNvtxError(`${source} has no NVTX_EVENTS table, so it holds no NVTX data.`, {
      hint: tables.size === 0
        ? 'The database is empty. Was the export interrupted?'
        : 'Profile with NVTX tracing on (`nsys profile -t nvtx,osrt …`, or `gil-nvtx trace`), then export to SQLite again.',
    });
  }
  const missing = REQUIRED_NVTX_COLUMNS.filter((c) => !nvtx.has(c));
  if (missing.length > 0) {
    throw new GilNvtxError(`${source}: NVTX_EVENTS lacks the column(s) ${missing.join(', ')}; this is not an nsys or gil-nvtx export schema the report knows.`, {
      hint: 'Export with `nsys export --type sqlite` (nsys 2022.4 or newer), or record with `gil-nvtx trace`.',
    });
  }
  if (!nvtx.has('text') && !nvtx.has('textId')) {
    throw new GilNvtxError(`${source}: NVTX_EVENTS has neither a text nor a textId column, so range names cannot be read.`, {
      hint: 'Export with `nsys export --type sqlite` (nsys 2022.4 or newer), or record with `gil-nvtx trace`.',
    });
  }
  if (!tables.has('StringIds')) {
    throw new GilNvtxError(`${source} has no StringIds table, so registered NVTX strings (the GIL patch's messages) cannot be resolved.`, {
      hint: 'The export looks incomplete; export it again with `nsys export --type sqlite`.',
    });
  }
  // The union payload is split by type; the patch writes a uint64, older builds an int64.
  const payloadCols = ['uint64Value', 'int64Value', 'uint32Value', 'int32Value'].filter((c) => nvtx.has(c));
  const nvtxPayload = payloadCols.length === 0 ? '0' : `COALESCE(${[...payloadCols, '0'].join(', ')})`;
  return {
    tables,
    columns,
    nvtxPayload,
    nvtxHasTextId: nvtx.has('textId'),
    nvtxHasText: nvtx.has('text'),
    nvtxHasEndGlobalTid: nvtx.has('endGlobalTid'),
  };
}

/** SQL for the name of an NVTX row aliased `alias` (inline text, else its registered string), and the join it needs. */
export function nvtxTextSql(schema: TraceSchema, alias: string, stringsAlias = 's'): { expr: string; join: string } {
  const join = schema.nvtxHasTextId ? `LEFT JOIN StringIds AS ${stringsAlias} ON ${stringsAlias}.id = ${alias}.textId` : '';
  if (schema.nvtxHasText && schema.nvtxHasTextId) return { expr: `COALESCE(${alias}.text, ${stringsAlias}.value)`, join };
  if (schema.nvtxHasTextId) return { expr: `${stringsAlias}.value`, join };
  return { expr: `${alias}.text`, join };
}

export function hasColumns(schema: TraceSchema, table: string, cols: string[]): boolean {
  const have = schema.columns.get(table);
  return !!have && cols.every((c) => have.has(c));
}
