export * from './types.js';
import type { CatalogRow, Options, Plan, Report } from './types.js';

/** Plan from SQL text or a host's `sqlite_schema` rows, in liteshift's own SQLite. Pure; virtual tables of any module are modelled. */
export function plan(current: string | CatalogRow[], targetSql: string, options?: Options): Plan;
/**
 * Migrate a database image inside liteshift's own SQLite (JSON and math functions; no FTS or
 * R*Tree: a database or schema that needs them is refused, bytes unchanged).
 */
export function migrateBytes(bytes: Uint8Array | ArrayBuffer, targetSql: string, options?: Options): { bytes: Uint8Array; report: Report };
/** The version of the SQLite inside the module. */
export function sqliteVersion(): string;
/** Panics inside the module on purpose: throws a LiteshiftError with code internal_error. */
export function selfTestPanic(): never;
/** Load the module (browsers; a no-op in Node). */
export default function init(input?: unknown): Promise<unknown>;
export function init(input?: unknown): Promise<unknown>;
