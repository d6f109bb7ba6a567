/** Options of plan, diff, migrate and migrateBytes. */
export interface Options {
  /** Allow steps that lose data (drop table, drop column). Default false. */
  allowDataLoss?: boolean;
  /** Column order is significant: a reorder plans a rebuild. Default false. */
  exactColumnOrder?: boolean;
  /** Table renames: `{ old: "new" }` or `[["old", "new"]]`. */
  renameTables?: Record<string, string> | Array<[string, string]>;
  /** Column renames: `{ "table.old": "new" }` or `[["table.old", "new"]]`. */
  renameColumns?: Record<string, string> | Array<[string, string]>;
  /** Values for existing rows of new or changed columns, computed by SQLite from each row as
   * it was: `{ "table.column": "EXPR" }` or `[["table.column", "EXPR"]]`. */
  values?: Record<string, string> | Array<[string, string]>;
  /** Plan for this SQLite version ("3.45.1"), or the SQLite a platform release ships
   *  ("android-26", "ios-15"; the table is in the main README). migrate uses the host's by default. */
  sqliteVersion?: string;
  /** Make a foreign key to an undeclared table or column an error (by default: a warning). */
  denyDanglingForeignKeys?: boolean;
  /** @deprecated No effect: dangling foreign keys are accepted by default. */
  allowDanglingForeignKeys?: boolean;
  /** Name of the schema in error messages. Default "<schema>". */
  sourceName?: string;
  /** Name patterns (GLOB: `*`, `?`, `[...]`; ignoring case) of objects that are not the
   * schema's, e.g. `['_sqlx_*']`: never compared or dropped (a table with its indexes and
   * triggers). Declaring a matching object throws `schema_error`; a malformed pattern,
   * `invalid_option`. Tables a platform owns (`android_metadata`, `_cf_*`, `_litestream_*`)
   * are always left alone. The schema may also say `-- liteshift:ignore GLOB`. */
  ignore?: string[];
  /** Never drop a table, column, index, view or trigger the schema does not declare;
   * `plan.kept` names what was kept. Default false. */
  keepUndeclared?: boolean;
  /** migrate and migrateBytes: run every step, check and verification, then roll back.
   * Default false. */
  dryRun?: boolean;
  /** migrate: how long to wait for another connection's write lock, in milliseconds.
   * Default 5000. */
  busyTimeoutMs?: number;
  /** Online rebuilds (other connections writing while a table is copied) are not in this
   * package: `true` is an `invalid_option` error (use the CLI, or the Python or Kotlin/Swift
   * package). `false`, the default, is accepted so that shared option objects work. */
  online?: false;
  /** Not in this package (see `online`): any value is an `invalid_option` error. */
  onlineChunkMs?: never;
  /** Not in this package (see `online`): any value is an `invalid_option` error. */
  onlinePauseMs?: never;
  /** migrate and migrateBytes: told as each step starts and finishes, and every 4,096 rows a
   * step writes (on sql.js 1.11+ and sqlite-wasm, through SQLite's update hook, set only
   * while such a step runs). Called synchronously; must not use the database. */
  onProgress?: (event: ProgressEvent) => void;
}

/** What a step costs in the size of the data; estimates when the plan was read from a database. */
export type Cost =
  | { kind: 'constant' }
  | { kind: 'rewrite' | 'scan' | 'free'; table: string; rows?: number; bytes?: number };

export type ProgressEvent =
  | { event: 'stepStarted'; step: number; total: number; reason: string; rewritesRows: boolean; cost: Cost }
  | { event: 'rows'; step: number; total: number; rows: number }
  /** `milliseconds`: how long the step took, as a float (the page's clock). */
  | { event: 'stepFinished'; step: number; total: number; reason: string; milliseconds: number; rowsChanged: number };

/** One row of `SELECT type, name, tbl_name, sql FROM sqlite_schema`. */
export interface CatalogRow {
  type: string;
  name: string;
  tbl_name: string;
  sql: string | null;
}

export interface Step {
  sql: string;
  destructive: boolean;
  rewritesRows: boolean;
  reason: string;
  /** O(1), or the rows and bytes of the table it rewrites, reads or frees. */
  cost: Cost;
}

export interface DataCheck {
  constraint: string;
  table: string;
  column: string | null;
  /** Selects one `example` text per offending row. */
  sql: string;
  /** Run only if a step stops at a violating row (SQLite enforces the constraint itself). */
  deferred: boolean;
}

export interface Plan {
  inSync: boolean;
  steps: Step[];
  /** The whole script, exactly what migrate runs. */
  sql: string;
  checks: DataCheck[];
  /** `PRAGMA quick_check` of each table whose rows are rewritten; each must say `ok` first. */
  healthChecks: { table: string; sql: string }[];
  /** The tables whose `PRAGMA foreign_key_check` runs before and after the steps, by their
   * names then (`before` null: created by the migration); null: the whole database. */
  fkChecks: { before: string | null; after: string }[] | null;
  foreignKeysOff: boolean;
  fingerprint: string;
  sqliteVersion: string;
  changes: string[];
  warnings: string[];
  suggestions: string[];
  /** What the database holds and the declaration does not, kept because of
   * `keepUndeclared`: "table extra", "column t.old", "index t_old". */
  kept: string[];
  destructiveSteps: string[];
  /** Whether tables are rebuilt online: always false in this package (see `Options.online`). */
  online: boolean;
}

export interface Report {
  stepsApplied: number;
  foreignKeysToggled: boolean;
  plan: Plan;
}

export interface Violation {
  constraint: string;
  table: string;
  column: string | null;
  count: number;
  examples: string[];
}

/** Errors carry a stable `code`: schema_error (with line and column), database_error,
 * data_loss_refused (with steps), data_violates_schema (with violations), stale_plan,
 * in_transaction, verification_failed, step_failed, invalid_option, unsupported_host,
 * not_initialized, internal_error, sqlite_error. */
export class LiteshiftError extends Error {
  code: string;
  /** schema_error: the schema's name (`sourceName`, default "<schema>") and the 1-based
   * line and column in it. */
  sourceName?: string;
  line?: number;
  column?: number;
  /** database_error: the database, when known. */
  path?: string;
  violations?: Violation[];
  steps?: string[];
}

