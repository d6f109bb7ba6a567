// liteshift's host over a JDBC connection to SQLite (xerial sqlite-jdbc), for JVM apps and
// tools. Copy this file into your project beside the generated `uniffi/liteshift/liteshift.kt`.
//
//     DriverManager.getConnection("jdbc:sqlite:app.db").use { conn ->
//         val report = migrate(JdbcHost(conn), File("schema.sql").readText(), MigrateOptions())
//         println("${report.stepsApplied} steps")
//     }
//
// It converts values and errors and does nothing else: liteshift runs its own transaction on
// the connection (BEGIN IMMEDIATE … COMMIT, or a savepoint inside the app's open transaction)
// and puts the connection back as it was. Every statement runs on `conn` and its SQLite.
package liteshift.hosts

import java.sql.Connection
import java.sql.DriverManager
import java.sql.ResultSet
import java.sql.SQLException
import uniffi.liteshift.HostException
import uniffi.liteshift.SqlValue
import uniffi.liteshift.SqliteHost

class JdbcHost(
    private val conn: Connection,
    /** Where `scratch` opens its empty in-memory databases: the same driver, so the same SQLite. */
    private val scratchUrl: String = "jdbc:sqlite::memory:",
) : SqliteHost {

    override fun execute(sql: String) {
        sqlite { conn.createStatement().use { it.execute(sql) } }
    }

    override fun query(sql: String): List<List<SqlValue>> = sqlite {
        conn.createStatement().use { st ->
            if (!st.execute(sql)) return@use emptyList()
            st.resultSet.use { rows(it) }
        }
    }

    override fun scratch(): SqliteHost = sqlite { JdbcHost(DriverManager.getConnection(scratchUrl), scratchUrl) }

    /** With `autoCommit = false` sqlite-jdbc always holds a transaction open; with it on, the
     *  app may still have run `BEGIN` itself, which SQLite alone knows. */
    override fun inTransaction(): Boolean = sqlite {
        if (!conn.autoCommit) return@sqlite true
        try {
            conn.createStatement().use { it.execute("BEGIN") }
        } catch (e: SQLException) {
            if (e.message.orEmpty().contains("within a transaction")) return@sqlite true
            throw e
        }
        conn.createStatement().use { it.execute("ROLLBACK") }
        false
    }

    override fun release() {
        conn.close()
    }

    private fun rows(rs: ResultSet): List<List<SqlValue>> {
        val n = rs.metaData.columnCount
        val out = ArrayList<List<SqlValue>>()
        while (rs.next()) out.add((1..n).map { value(rs.getObject(it)) })
        return out
    }

    private fun value(v: Any?): SqlValue = when (v) {
        null -> SqlValue.Null
        is Int -> SqlValue.Integer(v.toLong())
        is Long -> SqlValue.Integer(v)
        is Double -> SqlValue.Real(v)
        is Float -> SqlValue.Real(v.toDouble())
        is String -> SqlValue.Text(v)
        is ByteArray -> SqlValue.Blob(v)
        else -> SqlValue.Text(v.toString())
    }

    /** A driver failure as liteshift's host error: SQLite's result code and its message once
     *  (sqlite-jdbc wraps it as "[SQLITE_ERROR] SQL error or missing database (MESSAGE)"). */
    private inline fun <T> sqlite(block: () -> T): T = try {
        block()
    } catch (e: SQLException) {
        val text = e.message.orEmpty()
        val inner = Regex("""^\[\w+]\s[^(]*\((.*)\)$""", RegexOption.DOT_MATCHES_ALL).find(text)
        val code = (e as? org.sqlite.SQLiteException)?.resultCode?.code ?: e.errorCode.takeIf { it != 0 }
        throw HostException.Sqlite(code, inner?.groupValues?.get(1) ?: text)
    }
}
