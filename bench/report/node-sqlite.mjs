// The read calls the report makes of better-sqlite3 (prepare, raw, pluck, all, get, iterate, close),
// over Node's built-in node:sqlite (Node 22.5+), so that the same analysis can be timed on both
// drivers. Benchmark only: `node --import ./node-sqlite-hook.mjs` swaps it in for better-sqlite3.
import { DatabaseSync } from 'node:sqlite';

function* firstColumn(rows) {
  for (const r of rows) yield r[0];
}

class Statement {
  #stmt;
  #raw = false;
  #pluck = false;
  constructor(stmt) {
    this.#stmt = stmt;
  }
  raw(on = true) {
    this.#raw = on;
    this.#stmt.setReturnArrays(on || this.#pluck);
    return this;
  }
  pluck(on = true) {
    this.#pluck = on;
    this.#stmt.setReturnArrays(on || this.#raw);
    return this;
  }
  all(...params) {
    const rows = this.#stmt.all(...params);
    return this.#pluck ? rows.map((r) => r[0]) : rows;
  }
  get(...params) {
    const row = this.#stmt.get(...params);
    return this.#pluck && row !== undefined ? row[0] : row;
  }
  iterate(...params) {
    const rows = this.#stmt.iterate(...params);
    return this.#pluck ? firstColumn(rows) : rows;
  }
  run(...params) {
    return this.#stmt.run(...params);
  }
}

export default class Database {
  #db;
  constructor(path, options = {}) {
    this.#db = new DatabaseSync(path, { readOnly: Boolean(options.readonly) });
  }
  get open() {
    return this.#db.isOpen;
  }
  prepare(sql) {
    return new Statement(this.#db.prepare(sql));
  }
  exec(sql) {
    this.#db.exec(sql);
    return this;
  }
  close() {
    this.#db.close();
  }
}
