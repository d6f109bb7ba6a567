// The Kotlin bindings on the JVM, through JdbcHost over xerial sqlite-jdbc (SQLite 3.40.1 on
// Debian 12): in-memory and file databases held by the driver, migrated on their own
// connection. Run by bindings/kotlin/test.sh; exits 1 when a test fails.
import java.io.File
import java.sql.Connection
import java.sql.DriverManager
import liteshift.hosts.JdbcHost
import uniffi.liteshift.CostKind
import uniffi.liteshift.LiteshiftException
import uniffi.liteshift.MigrateOptions
import uniffi.liteshift.check
import uniffi.liteshift.diff
import uniffi.liteshift.migrate
import uniffi.liteshift.migrateWithProgress
import uniffi.liteshift.plan
import uniffi.liteshift.ProgressEvent
import uniffi.liteshift.ProgressListener
import uniffi.liteshift.sqliteVersionOf

const val V1 = """
CREATE TABLE users(id INTEGER PRIMARY KEY, name TEXT);
CREATE TABLE posts(
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  body TEXT
);
CREATE INDEX posts_user ON posts(user_id);
CREATE VIEW user_posts AS SELECT u.name, p.body FROM users u JOIN posts p ON p.user_id = u.id;
CREATE TRIGGER posts_touch AFTER INSERT ON posts BEGIN UPDATE users SET name = name WHERE id = new.user_id; END;
"""

// users.name becomes NOT NULL: a rebuild of the parent table on SQLite < 3.53.
val V2 = V1.replace(
    "CREATE TABLE users(id INTEGER PRIMARY KEY, name TEXT);",
    "CREATE TABLE users(id INTEGER PRIMARY KEY, name TEXT NOT NULL, email TEXT);",
)

const val SEED = """
INSERT INTO users VALUES (1, 'ada'), (2, 'bob');
INSERT INTO posts(user_id, body) VALUES (1, 'a'), (1, 'b'), (2, 'c');
DELETE FROM posts WHERE id = 3;
INSERT INTO posts(user_id, body) VALUES (2, 'd');
"""

fun Connection.load(sql: String) {
    // sqlite-jdbc runs one statement per execute; executeUpdate on a whole script stops at the
    // first, so statements are fed one by one, trigger bodies kept whole.
    val parts = ArrayList<String>()
    var buf = StringBuilder()
    for (piece in sql.split(";")) {
        buf.append(piece).append(";")
        val text = buf.toString()
        val inTrigger = Regex("(?is)CREATE\\s+TRIGGER").containsMatchIn(text) && !Regex("(?is)\\bEND\\s*;\\s*$").containsMatchIn(text)
        if (!inTrigger) {
            if (text.trim().trim(';').isNotBlank()) parts.add(text.trim())
            buf = StringBuilder()
        }
    }
    for (p in parts) createStatement().use { it.execute(p) }
}

fun Connection.rows(sql: String): List<List<Any?>> = createStatement().use { st ->
    st.executeQuery(sql).use { rs ->
        val n = rs.metaData.columnCount
        val out = ArrayList<List<Any?>>()
        while (rs.next()) out.add((1..n).map { rs.getObject(it) })
        out
    }
}

/** Everything the database holds: its schema and every row, for before/after comparisons. */
fun Connection.dump(): List<Any?> {
    val schema = rows("SELECT type, name, sql FROM sqlite_master ORDER BY name")
    val tables = rows("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").map { it[0] as String }
    return schema + tables.map { t -> t to rows("SELECT * FROM \"$t\" ORDER BY rowid") }
}

fun fresh(url: String = "jdbc:sqlite::memory:", seed: Boolean = true): Connection {
    val c = DriverManager.getConnection(url)
    c.load(V1 + if (seed) SEED else "")
    return c
}

fun expect(cond: Boolean, what: () -> String) {
    if (!cond) throw AssertionError(what())
}

inline fun <reified E : Throwable> thrown(block: () -> Unit): E {
    try {
        block()
    } catch (e: Throwable) {
        if (e is E) return e
        throw AssertionError("expected ${E::class.simpleName}, got $e", e)
    }
    throw AssertionError("expected ${E::class.simpleName}, nothing was thrown")
}

val tests = linkedMapOf<String, () -> Unit>(
    "an in-memory database held by sqlite-jdbc is migrated through its connection" to {
        fresh().use { c ->
            val host = JdbcHost(c)
            val report = migrate(host, V2, MigrateOptions())
            expect(report.stepsApplied > 0u) { "no steps: $report" }
            val driver = c.rows("SELECT sqlite_version()")[0][0]
            expect(report.plan.sqliteVersion == driver) { "planned for ${report.plan.sqliteVersion}, the driver has $driver" }
            expect(check(host, V2, MigrateOptions())) { "not in sync" }
            expect(migrate(host, V2, MigrateOptions()).stepsApplied == 0uL) { "second run did something" }
            expect(c.rows("SELECT name FROM pragma_table_info('users')").map { it[0] } == listOf("id", "name", "email")) { "columns" }
        }
    },
    "a file database: the parent's rebuild under foreign_keys=ON keeps cascade children, view, trigger, AUTOINCREMENT" to {
        val file = File.createTempFile("liteshift", ".db").also { it.delete() }
        try {
            fresh("jdbc:sqlite:${file.path}").use { c ->
                c.createStatement().use { it.execute("PRAGMA foreign_keys = ON") }
                val before = c.rows("SELECT * FROM posts ORDER BY id")
                val report = migrate(JdbcHost(c), V2, MigrateOptions())
                expect(report.foreignKeysToggled) { "enforcement was not switched off" }
                expect(report.plan.steps.any { it.reason.startsWith("rebuild users") && it.rewritesRows }) { report.plan.sql }
                expect(c.rows("SELECT * FROM posts ORDER BY id") == before) { "child rows changed" }
                expect(c.rows("SELECT count(*) FROM user_posts")[0][0] == 3) { "view" }
                expect(c.rows("SELECT seq FROM sqlite_sequence WHERE name = 'posts'")[0][0] == 4) { "AUTOINCREMENT counter" }
                expect(c.rows("SELECT count(*) FROM sqlite_master WHERE type = 'trigger'")[0][0] == 1) { "trigger" }
                expect(c.rows("PRAGMA foreign_keys")[0][0] == 1) { "enforcement not restored" }
                expect(c.rows("PRAGMA integrity_check")[0][0] == "ok") { "integrity" }
            }
            DriverManager.getConnection("jdbc:sqlite:${file.path}").use { other ->
                expect(check(JdbcHost(other), V2, MigrateOptions())) { "not committed" }
            }
        } finally {
            file.delete()
        }
    },
    "an online migrate through JDBC gives the blocking one's rows and schema; its options need online" to {
        val old = "CREATE TABLE items(id INTEGER PRIMARY KEY, qty TEXT NOT NULL, note TEXT); CREATE INDEX items_note ON items(note);"
        // qty's type changes: a rebuild.
        val new = old.replace("qty TEXT", "qty INTEGER")
        val files = listOf("blocking", "online").map { File.createTempFile("liteshift-$it", ".db").also { f -> f.delete() } }
        try {
            val (blocking, online) = files.map { f ->
                DriverManager.getConnection("jdbc:sqlite:${f.path}").also { c ->
                    c.rows("PRAGMA journal_mode = WAL")
                    c.load(old)
                    c.load("""
                        WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 5000)
                        INSERT INTO items SELECT i, CAST(i * 7 % 1000 AS TEXT), 'note ' || (i % 97) FROM n;
                        DELETE FROM items WHERE id BETWEEN 100 AND 199;
                    """)
                }
            }
            blocking.use { b ->
                online.use { o ->
                    expect(!plan(JdbcHost(b), new, MigrateOptions()).online) { "the blocking plan says online" }
                    val planned = plan(JdbcHost(o), new, MigrateOptions(online = true))
                    expect(planned.online && planned.sql.contains("_liteshift_online")) { planned.sql }
                    // Either tuning option without online is refused, naming it; nothing runs.
                    val e = thrown<LiteshiftException.InvalidOption> { migrate(JdbcHost(o), new, MigrateOptions(onlineChunkMs = 10u)) }
                    expect(e.detail.startsWith("onlineChunkMs: ")) { e.detail }
                    val p = thrown<LiteshiftException.InvalidOption> { plan(JdbcHost(o), new, MigrateOptions(onlinePauseMs = 0u)) }
                    expect(p.detail.startsWith("onlinePauseMs: ")) { p.detail }
                    expect(o.rows("SELECT typeof(qty) FROM items LIMIT 1")[0][0] == "text") { "migrated anyway" }

                    migrate(JdbcHost(b), new, MigrateOptions())
                    val report = migrate(JdbcHost(o), new, MigrateOptions(online = true, onlineChunkMs = 5u, onlinePauseMs = 0u))
                    expect(report.plan.online) { "the report's plan is not online" }
                    // The plan's steps are every step the migration ran, the copy among them.
                    expect(report.plan.steps.size.toULong() == report.stepsApplied) { "${report.plan.steps.size} steps, ${report.stepsApplied} applied" }
                    expect(report.plan.steps.any { it.reason.startsWith("online rebuild of items: copy every row") }) { report.plan.steps.map { it.reason }.toString() }
                    val contents = { c: Connection ->
                        listOf(
                            c.rows("SELECT id, qty, typeof(qty), note FROM items ORDER BY id"),
                            c.rows("SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY name"),
                        )
                    }
                    expect(contents(o) == contents(b)) { "online and blocking differ" }
                    expect(o.rows("SELECT count(*) FROM items")[0][0] == 4900) { "rows" }
                    expect(o.rows("SELECT DISTINCT typeof(qty) FROM items") == listOf(listOf<Any?>("integer"))) { "types" }
                    expect(o.rows("SELECT name FROM sqlite_master WHERE name LIKE '%liteshift%'").isEmpty()) { "leftovers" }
                    expect(o.rows("PRAGMA integrity_check")[0][0] == "ok") { "integrity" }
                    expect(check(JdbcHost(o), new, MigrateOptions())) { "not in sync" }
                }
            }
        } finally {
            files.forEach { it.delete(); File(it.path + "-wal").delete(); File(it.path + "-shm").delete() }
        }
    },
    "refusals leave the database unchanged" to {
        fresh().use { c ->
            c.createStatement().use { it.execute("INSERT INTO users VALUES (3, NULL)") }
            val before = c.dump()
            val e = thrown<LiteshiftException.DataViolatesSchema> { migrate(JdbcHost(c), V2, MigrateOptions()) }
            val v = e.violations.single()
            expect(v.table == "users" && v.column == "name" && v.count == 1uL && v.constraint == "NOT NULL") { "$v" }
            expect(e.detail.contains("users.name")) { e.detail }
            expect(c.dump() == before) { "changed" }
            val loss = thrown<LiteshiftException.DataLossRefused> {
                migrate(JdbcHost(c), "CREATE TABLE users(id INTEGER PRIMARY KEY, name TEXT);", MigrateOptions())
            }
            expect(loss.steps.any { it.startsWith("drop table posts") }) { "${loss.steps}" }
            expect(loss.detail.contains("allowDataLoss")) { loss.detail }
            expect(c.dump() == before) { "changed" }
        }
    },
    "a schema error names its line" to {
        fresh().use { c ->
            val bad = V2 + "\nCREATE TABLE broken(id INTEGER PRIMARY KEY,\n  x TEXT REFERENCES);\n"
            val e = thrown<LiteshiftException.Schema> {
                migrate(JdbcHost(c), bad, MigrateOptions(sourceName = "schema.sql"))
            }
            val line = V2.count { it == '\n' } + 2
            expect(e.line == line.toUInt() && e.column >= 1u) { "${e.line}:${e.column} (want line $line): ${e.detail}" }
            expect(e.detail.startsWith("schema.sql:$line:")) { e.detail }
            expect(e.sourceName == "schema.sql") { e.sourceName }
        }
    },
    "renames and declared values" to {
        fresh().use { c ->
            c.createStatement().use { it.execute("INSERT INTO users VALUES (3, NULL)") }
            val schema = V2.replace("email TEXT", "email TEXT NOT NULL")
            val opts = MigrateOptions(values = mapOf("users.name" to "coalesce(name, 'user' || id)", "users.email" to "coalesce(name, 'x') || '@example.com'"))
            migrate(JdbcHost(c), schema, opts)
            expect(c.rows("SELECT email FROM users ORDER BY id").map { it[0] } == listOf("ada@example.com", "bob@example.com", "x@example.com")) { "values" }
            val renamed = schema.replace("CREATE TABLE users(", "CREATE TABLE people(").replace("REFERENCES users(id)", "REFERENCES people(id)")
                .replace("FROM users u", "FROM people u").replace("UPDATE users SET", "UPDATE people SET")
            val r = migrate(JdbcHost(c), renamed, MigrateOptions(renameTables = mapOf("users" to "people")))
            expect(r.plan.destructiveSteps.isEmpty()) { "${r.plan.destructiveSteps}" }
            expect(c.rows("SELECT count(*) FROM people")[0][0] == 3) { "rows" }
            expect(c.rows("SELECT count(*) FROM posts")[0][0] == 3) { "children" }
        }
    },
    "the app's own transaction: joined when possible, InTransaction when enforcement must go off" to {
        fresh().use { c ->
            c.autoCommit = false
            c.createStatement().use { it.execute("INSERT INTO users VALUES (9, 'zed')") }
            val added = V1.replace("name TEXT);", "name TEXT, email TEXT);")
            migrate(JdbcHost(c), added, MigrateOptions())
            c.rollback()
            expect(check(JdbcHost(c), V1, MigrateOptions())) { "the savepoint did not join the app's transaction" }
            // A rebuild under enforcement must switch it off, which SQLite forbids in a transaction.
            c.autoCommit = true
            c.createStatement().use { it.execute("PRAGMA foreign_keys = ON") }
            c.autoCommit = false
            val e = thrown<LiteshiftException.InTransaction> { migrate(JdbcHost(c), V2, MigrateOptions()) }
            expect(e.detail.contains("commit or roll back")) { e.detail }
            c.autoCommit = true
            expect(migrate(JdbcHost(c), V2, MigrateOptions()).stepsApplied > 0u) { "after commit" }
        }
    },
    "migrateWithProgress tells each step and what it costs; a throwing listener changes nothing" to {
        DriverManager.getConnection("jdbc:sqlite::memory:").use { c ->
            c.createStatement().use {
                it.executeUpdate("CREATE TABLE t(id INTEGER PRIMARY KEY, name TEXT)")
                it.executeUpdate("WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < 10000) INSERT INTO t SELECT i, 'row ' || i FROM s")
            }
            val events = mutableListOf<ProgressEvent>()
            val listener = object : ProgressListener {
                override fun onProgress(event: ProgressEvent) { events.add(event) }
            }
            val schema = "CREATE TABLE t(id INTEGER PRIMARY KEY, name TEXT NOT NULL CHECK (name <> ''));"
            val report = migrateWithProgress(JdbcHost(c), schema, MigrateOptions(), listener)
            val total = report.plan.steps.size.toULong()
            expect(events.filterIsInstance<ProgressEvent.StepStarted>().size.toULong() == total) { "$events" }
            expect(events.filterIsInstance<ProgressEvent.StepFinished>().size.toULong() == total) { "$events" }
            val copy = events.filterIsInstance<ProgressEvent.StepStarted>().single { it.cost.kind == CostKind.REWRITE }
            expect(copy.cost.table == "t" && copy.cost.rows == 10000uL) { "${copy.cost}" }
            val done = events.filterIsInstance<ProgressEvent.StepFinished>().single { it.step == copy.step }
            expect(done.rowsChanged == 10000uL && done.milliseconds >= 0.0) { "$done" }
            expect(report.plan.steps[(copy.step - 1u).toInt()].cost == copy.cost) { "the plan's cost" }
            val throwing = object : ProgressListener {
                override fun onProgress(event: ProgressEvent) { throw IllegalStateException("the display broke") }
            }
            val again = schema.replace("name <> ''", "length(name) > 0")
            expect(migrateWithProgress(JdbcHost(c), again, MigrateOptions(), throwing).stepsApplied > 0u) { "stopped" }
            expect(c.rows("SELECT count(*) FROM t")[0][0] == 10000) { "rows" }
        }
    },
    "diff plans for a platform release on the driver's SQLite" to {
        fresh(seed = false).use { c ->
            val a = "CREATE TABLE t(id INTEGER PRIMARY KEY, a TEXT);"
            val b = "CREATE TABLE t(id INTEGER PRIMARY KEY, b TEXT);"
            val renames = mapOf("t.a" to "b")
            val api30 = diff(JdbcHost(c), a, b, MigrateOptions(renameColumns = renames, sqliteVersion = "android-30"))
            expect(api30.sql.contains("RENAME COLUMN \"a\" TO \"b\"")) { api30.sql }
            val api28 = diff(JdbcHost(c), a, b, MigrateOptions(renameColumns = renames, sqliteVersion = "android-28"))
            expect(api28.sqliteVersion == "3.22.0" && !api28.sql.contains("RENAME COLUMN \"a\"")) { api28.sql }
            expect(sqliteVersionOf("ios-15") == "3.36.0") { "ios-15" }
            thrown<LiteshiftException.InvalidOption> { sqliteVersionOf("android-19") }
            expect(plan(JdbcHost(c), V1, MigrateOptions()).inSync) { "plan of the same schema" }
        }
    },
    "sharing the database: android_metadata, ignore, keepUndeclared and their errors" to {
        val app = "CREATE TABLE users(id INTEGER PRIMARY KEY, name TEXT NOT NULL);\nCREATE INDEX users_name ON users(name);\n"
        // users.name changes its declared type: a rebuild of users.
        val rebuilt = app.replace("name TEXT NOT NULL", "name VARCHAR(40) NOT NULL")
        DriverManager.getConnection("jdbc:sqlite::memory:").use { c ->
            c.load(app + "INSERT INTO users(name) VALUES ('ada'), ('bob');")
            c.load("CREATE TABLE android_metadata (locale TEXT); INSERT INTO android_metadata VALUES ('en_US');")
            c.load("""CREATE TABLE _sqlx_migrations(version BIGINT PRIMARY KEY, description TEXT NOT NULL);
                CREATE INDEX _sqlx_migrations_description ON _sqlx_migrations(description);
                INSERT INTO _sqlx_migrations VALUES (20240101, 'init');""")
            val host = JdbcHost(c)
            // A platform's table is never the schema's: only another tool's table differs.
            val unignored = plan(host, app, MigrateOptions()).changes
            expect(unignored == listOf("drop table _sqlx_migrations", "drop index _sqlx_migrations_description")) { "$unignored" }
            val ignoring = MigrateOptions(ignore = listOf("_sqlx_*"))
            expect(check(host, app, ignoring)) { "not in sync with ignore" }
            val r = migrate(host, rebuilt, ignoring)
            expect(r.plan.steps.any { it.rewritesRows } && r.plan.steps.none { it.sql.contains("_sqlx") || it.sql.contains("android_metadata") }) { r.plan.sql }
            expect(c.rows("SELECT * FROM _sqlx_migrations") == listOf(listOf<Any?>(20240101, "init"))) { "tool's row" }
            expect(c.rows("SELECT count(*) FROM sqlite_master WHERE name = '_sqlx_migrations_description'")[0][0] == 1) { "tool's index" }
            expect(c.rows("SELECT locale FROM android_metadata") == listOf(listOf<Any?>("en_US"))) { "platform row" }
            // keepUndeclared: a column's values kept through a rebuild, named in plan.kept.
            c.load("ALTER TABLE users ADD COLUMN old TEXT; UPDATE users SET old = 'was ' || name;")
            val keeping = MigrateOptions(ignore = listOf("_sqlx_*"), keepUndeclared = true)
            val k = migrate(host, app, keeping)
            expect(k.plan.kept == listOf("column users.old") && k.plan.destructiveSteps.isEmpty()) { "${k.plan.kept}" }
            expect(c.rows("SELECT name, old FROM users ORDER BY id") == listOf(listOf<Any?>("ada", "was ada"), listOf<Any?>("bob", "was bob"))) { "kept values" }
            expect(plan(host, app, ignoring).kept.isEmpty()) { "kept without the option" }
            // Errors: a declared ignored name, a malformed pattern.
            val e = thrown<LiteshiftException.Schema> { plan(host, app, MigrateOptions(ignore = listOf("user?"))) }
            expect(e.line == 1u && e.detail.contains("`user?`")) { e.detail }
            val bad = thrown<LiteshiftException.InvalidOption> { plan(host, app, MigrateOptions(ignore = listOf("[abc"))) }
            expect(bad.detail.contains("[abc")) { bad.detail }
        }
    },
)

fun main() {
    tests.putAll(contractTests())
    var failed = 0
    for ((name, body) in tests) {
        try {
            body()
            println("ok   $name")
        } catch (e: Throwable) {
            failed++
            println("FAIL $name\n     $e")
            e.cause?.let { println("     caused by $it") }
        }
    }
    println("${tests.size - failed} passed, $failed failed")
    if (failed > 0) kotlin.system.exitProcess(1)
}
