// liteshift's host over GRDB (https://github.com/groue/GRDB.swift), for iOS and macOS apps.
// Add it beside the generated `liteshift.swift`, `liteshiftFFI.h` and `liteshiftFFI.modulemap`
// (bindings/kotlin/test.sh writes them to target/bindings/swift/) and the static library built
// for your targets (`cargo build -p liteshift-ffi --release --target aarch64-apple-ios`).
//
// NOT TESTED: Swift cannot be compiled on this project's machines. Kotlin's JdbcHost, built on
// the same interface, is tested on the JVM. Review this file against your GRDB version.
//
// Call migrate when the app opens its database, before anything else uses it, outside any
// transaction:
//
//     let dbQueue = try DatabaseQueue(path: path)
//     let schema = try String(contentsOf: Bundle.main.url(forResource: "schema", withExtension: "sql")!)
//     let report = try dbQueue.writeWithoutTransaction { db in
//         try migrate(host: GrdbHost(db), schemaSql: schema, options: MigrateOptions())
//     }
//
// liteshift runs its own transaction (BEGIN IMMEDIATE … COMMIT) on the connection and leaves it
// as it found it; every statement runs on GRDB's connection and its SQLite.
import Foundation
import GRDB

public final class GrdbHost: SqliteHost, @unchecked Sendable {
    private enum Connection {
        /// The app's connection, valid inside the DatabaseQueue closure that lent it.
        case borrowed(Database)
        /// A scratch in-memory database liteshift asked for.
        case owned(DatabaseQueue)
    }

    private let connection: Connection

    /// `db` is only valid inside the `DatabaseQueue`/`DatabasePool` closure that gave it: call
    /// `migrate` there.
    public init(_ db: Database) {
        connection = .borrowed(db)
    }

    private init(scratch: DatabaseQueue) {
        connection = .owned(scratch)
    }

    private func on<T>(_ body: (Database) throws -> T) throws -> T {
        do {
            switch connection {
            case .borrowed(let db): return try body(db)
            case .owned(let queue): return try queue.inDatabase(body)
            }
        } catch let e as DatabaseError {
            throw HostError.Sqlite(code: e.extendedResultCode.rawValue, detail: e.message ?? "\(e)")
        }
    }

    public func execute(sql: String) throws {
        // Row-returning statements (PRAGMA busy_timeout = N) are drained by fetching them.
        try on { db in _ = try Row.fetchAll(db, sql: sql) }
    }

    public func query(sql: String) throws -> [[SqlValue]] {
        try on { db in
            try Row.fetchAll(db, sql: sql).map { row in
                row.databaseValues.map { v -> SqlValue in
                    switch v.storage {
                    case .null: return .null
                    case .int64(let i): return .integer(value: i)
                    case .double(let d): return .real(value: d)
                    case .string(let s): return .text(value: s)
                    case .blob(let b): return .blob(value: b)
                    }
                }
            }
        }
    }

    public func scratch() throws -> SqliteHost {
        do {
            return GrdbHost(scratch: try DatabaseQueue())
        } catch let e as DatabaseError {
            throw HostError.Sqlite(code: e.extendedResultCode.rawValue, detail: e.message ?? "\(e)")
        }
    }

    public func inTransaction() throws -> Bool {
        try on { db in db.isInsideTransaction }
    }

    public func release() {
        // A scratch DatabaseQueue closes when it is deallocated.
    }
}
