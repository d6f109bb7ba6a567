// liteshift's host over Android's SupportSQLiteDatabase (Room, androidx.sqlite). Copy this file
// into your app beside the generated `uniffi/liteshift/liteshift.kt` and the JNA-loaded
// `libliteshift_ffi.so` for each ABI (jniLibs/).
//
// NOT TESTED on this project's machines (no Android runtime there); JdbcHost.kt, its JVM twin,
// is. Review it against your androidx.sqlite version.
//
// Call migrate when the database opens, before anything else uses it, outside any transaction
// (Room's onOpen callback runs outside one):
//
//     Room.databaseBuilder(context, AppDatabase::class.java, "app.db")
//         .addCallback(object : RoomDatabase.Callback() {
//             override fun onOpen(db: SupportSQLiteDatabase) {
//                 val schema = context.assets.open("schema.sql").bufferedReader().readText()
//                 migrate(AndroidHost(db, AndroidHost.inMemory(context)), schema, MigrateOptions())
//             }
//         })
//         .build()
//
// (With Room, declare the schema Room's entities produce — `exportSchema` writes it — and let
// liteshift replace hand-written Migration objects.)
//
// Android's SQLiteSession handles BEGIN, COMMIT and ROLLBACK statements itself, as its own
// transaction calls; that is why migrate must run outside the app's transactions here (inside
// one, liteshift's `ROLLBACK TO` savepoint would end the whole transaction).
package liteshift.hosts

import android.content.Context
import android.database.Cursor
import android.database.SQLException
import androidx.sqlite.db.SupportSQLiteDatabase
import androidx.sqlite.db.SupportSQLiteOpenHelper
import androidx.sqlite.db.framework.FrameworkSQLiteOpenHelperFactory
import uniffi.liteshift.HostException
import uniffi.liteshift.SqlValue
import uniffi.liteshift.SqliteHost

class AndroidHost(
    private val db: SupportSQLiteDatabase,
    /** Opens an empty in-memory database on the same SQLite as `db` (the platform's, or the
     *  bundled one your SupportSQLiteOpenHelper.Factory provides). */
    private val openScratch: () -> SupportSQLiteDatabase,
    private val isScratch: Boolean = false,
) : SqliteHost {

    override fun execute(sql: String) = sqlite {
        // execSQL refuses statements that return rows (PRAGMA busy_timeout = N does): those
        // go through query, whose cursor runs them to completion.
        if (returnsRows(sql)) db.query(sql).use { drain(it) } else db.execSQL(sql)
    }

    override fun query(sql: String): List<List<SqlValue>> = sqlite {
        db.query(sql).use { c ->
            val out = ArrayList<List<SqlValue>>()
            while (c.moveToNext()) out.add((0 until c.columnCount).map { value(c, it) })
            out
        }
    }

    override fun scratch(): SqliteHost = sqlite { AndroidHost(openScratch(), openScratch, isScratch = true) }

    override fun inTransaction(): Boolean = db.inTransaction()

    override fun release() {
        if (isScratch) db.close()
    }

    private fun returnsRows(sql: String): Boolean {
        val head = sql.trimStart().take(6).uppercase()
        return head.startsWith("PRAGMA") || head.startsWith("SELECT") || head.startsWith("WITH")
    }

    private fun drain(c: Cursor) {
        while (c.moveToNext()) Unit
    }

    private fun value(c: Cursor, i: Int): SqlValue = when (c.getType(i)) {
        Cursor.FIELD_TYPE_NULL -> SqlValue.Null
        Cursor.FIELD_TYPE_INTEGER -> SqlValue.Integer(c.getLong(i))
        Cursor.FIELD_TYPE_FLOAT -> SqlValue.Real(c.getDouble(i))
        Cursor.FIELD_TYPE_BLOB -> SqlValue.Blob(c.getBlob(i))
        else -> SqlValue.Text(c.getString(i))
    }

    /** Android's exceptions carry SQLite's message ("… (code 1 SQLITE_ERROR): , while
     *  compiling: …"); the code is read from it when present. */
    private inline fun <T> sqlite(block: () -> T): T = try {
        block()
    } catch (e: SQLException) {
        val text = e.message.orEmpty()
        val code = Regex("""\(code (\d+)""").find(text)?.groupValues?.get(1)?.toIntOrNull()
        throw HostException.Sqlite(code, text.substringBefore(" (code ").ifEmpty { text })
    }

    companion object {
        /** Empty in-memory databases on the platform SQLite (the framework helper). */
        fun inMemory(context: Context): () -> SupportSQLiteDatabase = {
            val config = SupportSQLiteOpenHelper.Configuration.builder(context)
                .name(null)
                .callback(object : SupportSQLiteOpenHelper.Callback(1) {
                    override fun onCreate(db: SupportSQLiteDatabase) {}
                    override fun onUpgrade(db: SupportSQLiteDatabase, oldVersion: Int, newVersion: Int) {}
                })
                .build()
            FrameworkSQLiteOpenHelperFactory().create(config).writableDatabase
        }
    }
}
