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
  /** Whether the connection is inside a transaction (optional: by default liteshift asks with
   * `BEGIN`, rolled back at once). */
  inTransaction?(): boolean;
  /** The migration runs inside a transaction you opened and roll back when liteshift throws
   * (as `transactionSync` does): liteshift opens no transaction or savepoint of its own. */
  callerTransaction?: boolean;
  /** The database's name in error messages, where SQLite cannot say it (optional). */
  describe?: string;
}

/** A Cloudflare D1 binding (`env.DB`, or miniflare's `getD1Database()` proxy), recognised by
 * its shape. */
export interface D1Binding {
  prepare(sql: string): unknown;
  batch(statements: unknown[]): Promise<unknown>;
  exec(sql: string): Promise<unknown>;
}

/** A Durable Object's storage (`ctx.storage`) with its SQL API (Workers entry only). */
export interface DurableObjectStorageLike {
  sql: { exec(sql: string, ...bindings: unknown[]): unknown };
  transactionSync<T>(fn: () => T): T;
}

/** A plan for D1: `statements` is the one self-checking batch `migrate` runs. */
export interface BatchPlan extends Plan {
  statements: string[];
}

/** Plan the migration of a D1 binding to `targetSql` (reads only): the batch `migrate` runs. */
export function plan(db: D1Binding, targetSql: string, options?: Options): Promise<BatchPlan>;
/** Plan the migration of Durable Object storage (Workers entry), read inside transactionSync. */
export function plan(db: DurableObjectStorageLike, targetSql: string, options?: Options): Promise<Plan>;
/** Plan the migration of `db` (a sql.js `Database`, an `oo1.DB`, or an {@link Adapter}) to `targetSql`. Reads only. */
export function plan(db: unknown, targetSql: string, options?: Options): Plan;
/** Whether a D1 binding or Durable Object storage is already at `targetSql` (reads only). */
export function check(db: D1Binding | DurableObjectStorageLike, targetSql: string, options?: Options): Promise<boolean>;
/** Whether `db` is already at `targetSql`: its plan has no step (reads only; `plan(…).inSync`). */
export function check(db: unknown, targetSql: string, options?: Options): boolean;
/** The migration from the declared schema `fromSql` to `targetSql`, modelled in scratch databases of `db`'s SQLite; `db` is not touched. */
export function diff(db: unknown, fromSql: string, targetSql: string, options?: Options): Plan;
/** Migrate `db` in one transaction on its own SQLite, verified before it commits: on a D1
 * binding, one `batch()` that checks itself; on Durable Object storage (Workers entry), one
 * `transactionSync`. */
export function migrate(db: unknown, targetSql: string, options?: Options): Promise<Report>;
/** Panics inside the module on purpose: throws a LiteshiftError with code internal_error. */
export function selfTestPanic(): never;
export function adapterFor(db: unknown): Adapter;
/** Load the module (browsers; a no-op in Node). */
export default function init(input?: unknown): Promise<unknown>;
export function init(input?: unknown): Promise<unknown>;
