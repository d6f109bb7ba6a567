export * from './types.js';
import type { Options, Plan, Report } from './types.js';

/** A value as SQLite returns it. */
export type SqliteValue = null | number | bigint | string | Uint8Array;

/**
 * The page's SQLite, as liteshift drives it. sql.js `Database`s and official sqlite-wasm
 * `oo1.DB`s get one from {@link adapterFor}; for any other SQLite, write one.
 */
export interface Adapter {
  /** Run one SQL statement (rows it returns are discarded). */
  exec(sql: string): void;
  /** Run one query; every row as an array of values in column order. */
  query(sql: string): SqliteValue[][];
  /** The adapter of a new, empty in-memory database on the same SQLite (liteshift loads the
   * declared schema there, so your SQLite validates it). */
  scratch(): Adapter;
  /** Run several statements at once (saves round trips; optional). */
  execScript?(sql: string): void;
  /** Run `sql` like execScript, calling `onRows(n)` every `every` rows it writes (SQLite's
   * update hook; optional: without it, onProgress reports steps but not rows). */
  execCountingRows?(sql: string, every: number, onRows: (rows: number) => void): void;
  /** Close a scratch database (called only on adapters `scratch()` returned). */
  close?(): void;
}

/** Plan the migration of `db` (a sql.js `Database`, an `oo1.DB`, or an {@link Adapter}) to `targetSql`. Reads only. */
export function plan(db: unknown, targetSql: string, options?: Options): Plan;
/** The migration from the declared schema `fromSql` to `targetSql`, modelled in scratch databases of `db`'s SQLite; `db` is not touched. */
export function diff(db: unknown, fromSql: string, targetSql: string, options?: Options): Plan;
/** Migrate `db` in one transaction on its own SQLite, verified before it commits. */
export function migrate(db: unknown, targetSql: string, options?: Options): Promise<Report>;
/** Panics inside the module on purpose: throws a LiteshiftError with code internal_error. */
export function selfTestPanic(): never;
export function adapterFor(db: unknown): Adapter;
/** Load the module (browsers; a no-op in Node). */
export default function init(input?: unknown): Promise<unknown>;
export function init(input?: unknown): Promise<unknown>;
