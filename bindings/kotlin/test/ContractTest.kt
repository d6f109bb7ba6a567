// The front-end contract's cases (tests/contract/cases.json) through the Kotlin bindings on
// sqlite-jdbc: each output must equal the Rust facade's (tests/contract/expected.json,
// written by `cargo test -p liteshift-contract`), with the Kotlin/Swift message for errors.
// Records are compared as the contract's JSON names them (camelCase, as UniFFI spells them);
// sqlite-jdbc does not say where in a statement SQLite found an error, so a schema error is
// compared with the expected one for such hosts (`withoutErrorOffset`).
import java.io.File
import java.sql.DriverManager
import liteshift.hosts.JdbcHost
import uniffi.liteshift.Cost
import uniffi.liteshift.LiteshiftException
import uniffi.liteshift.MigrateOptions
import uniffi.liteshift.Plan
import uniffi.liteshift.ProgressEvent
import uniffi.liteshift.ProgressListener
import uniffi.liteshift.Report
import uniffi.liteshift.Step
import uniffi.liteshift.check
import uniffi.liteshift.diff
import uniffi.liteshift.migrateWithProgress
import uniffi.liteshift.plan

/** A small JSON reader: objects as maps, arrays as lists, whole numbers as Long. */
class Json(private val s: String) {
    private var i = 0
    fun read(): Any? { val v = value(); space(); require(i == s.length) { "trailing JSON at $i" }; return v }
    private fun space() { while (i < s.length && s[i].isWhitespace()) i++ }
    private fun value(): Any? {
        space()
        return when (s[i]) {
            '{' -> { i++; val m = LinkedHashMap<String, Any?>(); space()
                if (s[i] == '}') { i++; return m }
                while (true) { space(); val k = string(); space(); i++ /* : */; m[k] = value(); space()
                    if (s[i++] == '}') return m } ; @Suppress("UNREACHABLE_CODE") m }
            '[' -> { i++; val l = ArrayList<Any?>(); space()
                if (s[i] == ']') { i++; return l }
                while (true) { l.add(value()); space(); if (s[i++] == ']') return l } ; @Suppress("UNREACHABLE_CODE") l }
            '"' -> string()
            't' -> { i += 4; true }
            'f' -> { i += 5; false }
            'n' -> { i += 4; null }
            else -> { val start = i; while (i < s.length && s[i] in "+-0123456789.eE") i++
                val t = s.substring(start, i); t.toLongOrNull() ?: t.toDouble() }
        }
    }
    private fun string(): String {
        val b = StringBuilder(); i++ // "
        while (s[i] != '"') {
            if (s[i] == '\\') { i++
                when (val c = s[i]) {
                    'n' -> b.append('\n'); 't' -> b.append('\t'); 'r' -> b.append('\r')
                    'b' -> b.append('\b'); 'f' -> b.append('\u000c')
                    'u' -> { b.append(s.substring(i + 1, i + 5).toInt(16).toChar()); i += 4 }
                    else -> b.append(c)
                }
            } else b.append(s[i])
            i++
        }
        i++
        return b.toString()
    }
}

fun costJ(c: Cost): Map<String, Any?> = buildMap {
    put("kind", c.kind.name.lowercase())
    c.table?.let { put("table", it) }
    c.rows?.let { put("rows", it.toLong()) }
    c.bytes?.let { put("bytes", it.toLong()) }
}

fun stepJ(s: Step) = mapOf("sql" to s.sql, "reason" to s.reason, "destructive" to s.destructive, "rewritesRows" to s.rewritesRows, "cost" to costJ(s.cost))

fun planJ(p: Plan) = mapOf(
    "inSync" to p.inSync, "steps" to p.steps.map(::stepJ), "sql" to p.sql,
    "checks" to p.checks.map { mapOf("constraint" to it.constraint, "table" to it.table, "column" to it.column, "sql" to it.sql, "deferred" to it.deferred) },
    "healthChecks" to p.healthChecks.map { mapOf("table" to it.table, "sql" to it.sql) },
    "fkChecks" to p.fkChecks?.map { mapOf("before" to it.before, "after" to it.after) },
    "foreignKeysOff" to p.foreignKeysOff, "fingerprint" to p.fingerprint, "sqliteVersion" to p.sqliteVersion,
    "changes" to p.changes, "warnings" to p.warnings, "suggestions" to p.suggestions, "kept" to p.kept,
    "destructiveSteps" to p.destructiveSteps, "online" to p.online,
)

fun reportJ(r: Report) = mapOf("stepsApplied" to r.stepsApplied.toLong(), "foreignKeysToggled" to r.foreignKeysToggled, "plan" to planJ(r.plan))

/** An event as the contract names it; `milliseconds` as 0 (the expected file's). */
fun eventJ(e: ProgressEvent): Map<String, Any?> = when (e) {
    is ProgressEvent.StepStarted -> mapOf("event" to "stepStarted", "step" to e.step.toLong(), "total" to e.total.toLong(), "reason" to e.reason, "rewritesRows" to e.rewritesRows, "cost" to costJ(e.cost))
    is ProgressEvent.Rows -> mapOf("event" to "rows", "step" to e.step.toLong(), "total" to e.total.toLong(), "rows" to e.rows.toLong())
    is ProgressEvent.StepFinished -> mapOf("event" to "stepFinished", "step" to e.step.toLong(), "total" to e.total.toLong(), "reason" to e.reason, "milliseconds" to 0L, "rowsChanged" to e.rowsChanged.toLong())
}

/** An error as the contract's fields, and its message. */
fun errorJ(e: LiteshiftException): Pair<Map<String, Any?>, String> = when (e) {
    is LiteshiftException.Schema -> mapOf("code" to "schema_error", "sourceName" to e.sourceName, "line" to e.line.toLong(), "column" to e.column.toLong()) to e.detail
    is LiteshiftException.DataLossRefused -> mapOf("code" to "data_loss_refused", "steps" to e.steps) to e.detail
    is LiteshiftException.DataViolatesSchema -> mapOf(
        "code" to "data_violates_schema",
        "violations" to e.violations.map { mapOf("constraint" to it.constraint, "table" to it.table, "column" to it.column, "count" to it.count.toLong(), "examples" to it.examples) },
    ) to e.detail
    is LiteshiftException.InTransaction -> mapOf("code" to "in_transaction") to e.detail
    is LiteshiftException.InvalidOption -> mapOf("code" to "invalid_option") to e.detail
    is LiteshiftException.Database -> mapOf("code" to e.code) to e.detail
    is LiteshiftException.Failed -> mapOf("code" to e.code) to e.detail
}

@Suppress("UNCHECKED_CAST")
fun optionsOf(o: Map<String, Any?>): MigrateOptions {
    val pairs = { k: String -> (o[k] as List<List<String>>?)?.associate { it[0] to it[1] } ?: emptyMap() }
    for (k in o.keys) require(k in setOf("sqliteVersion", "sourceName", "keepUndeclared", "dryRun", "renameColumns", "values", "online", "onlineChunkMs", "onlinePauseMs")) { "option $k: add it here" }
    return MigrateOptions(
        sqliteVersion = o["sqliteVersion"] as String?,
        sourceName = o["sourceName"] as String?,
        keepUndeclared = o["keepUndeclared"] as Boolean? ?: false,
        dryRun = o["dryRun"] as Boolean? ?: false,
        renameColumns = pairs("renameColumns"),
        values = pairs("values"),
        online = o["online"] as Boolean? ?: false,
        onlineChunkMs = (o["onlineChunkMs"] as Number?)?.toLong()?.toULong(),
        onlinePauseMs = (o["onlinePauseMs"] as Number?)?.toLong()?.toULong(),
    )
}

@Suppress("UNCHECKED_CAST")
fun contractTests(): Map<String, () -> Unit> {
    val dir = File(System.getProperty("liteshift.contract") ?: "../../tests/contract")
    val cases = (Json(File(dir, "cases.json").readText()).read() as Map<String, Any?>)["cases"] as List<Map<String, Any?>>
    val expected = Json(File(dir, "expected.json").readText()).read() as Map<String, Any?>
    return cases.associate { case ->
        val name = case["name"] as String
        "contract case $name" to {
            DriverManager.getConnection("jdbc:sqlite::memory:").use { c ->
                (case["setup"] as String?)?.let { if (it.isNotBlank()) c.load(it) }
                val host = JdbcHost(c)
                val options = optionsOf(case["options"] as Map<String, Any?>)
                val schema = case["schema"] as String
                val events = ArrayList<Map<String, Any?>>()
                val listener = object : ProgressListener {
                    override fun onProgress(event: ProgressEvent) { events.add(eventJ(event)) }
                }
                var message: String? = null
                val got = LinkedHashMap<String, Any?>()
                try {
                    when (case["call"]) {
                        "plan" -> got["ok"] = planJ(plan(host, schema, options))
                        "check" -> got["ok"] = check(host, schema, options)
                        "diff" -> got["ok"] = planJ(diff(host, case["from"] as String, schema, options))
                        else -> {
                            got["ok"] = reportJ(migrateWithProgress(host, schema, options, listener))
                            got["inSyncAfter"] = check(host, schema, options)
                        }
                    }
                } catch (e: LiteshiftException) {
                    val (fields, detail) = errorJ(e)
                    got["error"] = fields
                    message = detail
                }
                if (case["call"] == "migrate") got["progress"] = events
                val want = LinkedHashMap(expected[name] as Map<String, Any?>)
                (want["error"] as Map<String, Any?>?)?.let { error ->
                    val e = (error["withoutErrorOffset"] as Map<String, Any?>?) ?: error
                    val messages = e["messages"] as Map<String, Any?>
                    expect(message == messages["kotlinSwift"]) { "message: $message\n  expected: ${messages["kotlinSwift"]}" }
                    want["error"] = e - "messages" - "withoutErrorOffset"
                }
                expect(got == want) { "got      $got\n     expected $want" }
            }
        }
    }
}
