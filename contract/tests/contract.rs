//! The contract test's Rust side: runs `tests/contract/cases.json` through this crate's calls
//! on a real SQLite (rusqlite) and compares the outputs with `tests/contract/expected.json`,
//! which every binding's test compares its own outputs with. `LITESHIFT_CONTRACT_UPDATE=1`
//! writes the file instead (review the diff: a changed output is a changed API of every
//! package).
//!
//! Each case runs once per front end; the outputs must be equal except for error messages
//! (a refusal's remedy names the front end's options), which the file keeps per front end
//! under `messages` in place of `message`. A step's `milliseconds` is written as 0.
//!
//! Each case also runs on a host that does not say where in a statement SQLite found an
//! error (Python's `sqlite3`, sqlite-jdbc and sql.js do not; `sqlite3_error_offset` is 3.38+):
//! a schema error is then located at its statement's start. Where that differs, the error
//! carries `withoutErrorOffset`, the error such a host gives; each binding's test compares
//! with the one its host gives.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use liteshift::{Host, HostError, Rows};
use liteshift_contract::{self as contract, Caller, FrontEnd, Options};
use serde_json::{json, Value};

/// A SQLite connection as a host that gives no error offsets.
struct NoOffsets(rusqlite::Connection);

fn strip(e: HostError) -> HostError {
    HostError { offset: None, ..e }
}

impl Host for NoOffsets {
    fn execute(&self, sql: &str) -> Result<(), HostError> {
        Host::execute(&self.0, sql).map_err(strip)
    }
    fn query(&self, sql: &str) -> Result<Rows, HostError> {
        Host::query(&self.0, sql).map_err(strip)
    }
    fn scratch(&self) -> Result<Box<dyn Host>, HostError> {
        Ok(Box::new(NoOffsets(
            rusqlite::Connection::open_in_memory().map_err(liteshift::host_error)?,
        )))
    }
    fn execute_script(&self, sql: &str) -> Result<(), HostError> {
        Host::execute_script(&self.0, sql).map_err(strip)
    }
    fn in_transaction(&self) -> Result<bool, HostError> {
        Host::in_transaction(&self.0)
    }
}

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/contract")
}

const FRONT_ENDS: [(&str, FrontEnd); 3] = [
    ("javascript", FrontEnd::JavaScript),
    ("python", FrontEnd::Python),
    ("kotlinSwift", FrontEnd::KotlinSwift),
];

/// One case's output for one front end: `{ ok, progress?, inSyncAfter? }` or `{ error }`.
fn run(case: &Value, front: FrontEnd, offsets: bool) -> Value {
    let text = |k: &str| case[k].as_str().unwrap_or_default().to_string();
    let options: Options = serde_json::from_value(case["options"].clone()).expect("options");
    let db = rusqlite::Connection::open_in_memory().unwrap();
    db.execute_batch(&text("setup")).unwrap();
    let mut plain;
    let mut stripped;
    let conn: &mut dyn Host = if offsets {
        plain = db;
        &mut plain
    } else {
        stripped = NoOffsets(db);
        &mut stripped
    };
    let events = Arc::new(Mutex::new(Vec::new()));
    let mut caller = Caller::new(front);
    let seen = events.clone();
    caller.on_progress = Some(Arc::new(move |e| seen.lock().unwrap().push(e)));
    let schema = text("schema");
    let out = match text("call").as_str() {
        "plan" => contract::plan(conn, &schema, &options, &caller).map(|p| json!({ "ok": p })),
        "check" => contract::check(conn, &schema, &options, &caller).map(|b| json!({ "ok": b })),
        "diff" => contract::diff(conn, &text("from"), &schema, &options, &caller)
            .map(|p| json!({ "ok": p })),
        "migrate" => contract::migrate(conn, &schema, &options, &caller).map(|r| {
            let after = contract::check(conn, &schema, &options, &Caller::new(front));
            json!({ "ok": r, "inSyncAfter": after.unwrap() })
        }),
        other => panic!("unknown call {other}"),
    };
    let mut out = match out {
        Ok(v) => v,
        Err(e) => json!({ "error": e }),
    };
    if text("call") == "migrate" {
        let mut progress = serde_json::to_value(&*events.lock().unwrap()).unwrap();
        for e in progress.as_array_mut().unwrap() {
            if let Some(ms) = e.get_mut("milliseconds") {
                *ms = json!(0);
            }
        }
        out["progress"] = progress;
    }
    out
}

/// The outputs of every front end, as one value: equal but for `error.message`, kept per
/// front end in `error.messages`.
fn merged(case: &Value, offsets: bool) -> Value {
    let mut messages = serde_json::Map::new();
    let mut first: Option<Value> = None;
    for (name, front) in FRONT_ENDS {
        let mut out = run(case, front, offsets);
        if let Some(error) = out.get_mut("error") {
            let message = error.as_object_mut().unwrap().remove("message").unwrap();
            messages.insert(name.into(), message);
        }
        match &first {
            None => first = Some(out),
            Some(f) => assert_eq!(
                f, &out,
                "case {}: the {name} output differs beyond its message",
                case["name"]
            ),
        }
    }
    let mut out = first.unwrap();
    if let Some(error) = out.get_mut("error") {
        error["messages"] = Value::Object(messages);
    }
    out
}

/// A case's expected output: on a host with error offsets, and where a host without them
/// gives another error, that one as `error.withoutErrorOffset`.
fn expected(case: &Value) -> Value {
    let mut out = merged(case, true);
    let without = merged(case, false);
    if without != out {
        let (Some(error), Some(other)) = (out.get_mut("error"), without.get("error")) else {
            panic!(
                "case {}: only an error may depend on error offsets",
                case["name"]
            );
        };
        error["withoutErrorOffset"] = other.clone();
    }
    out
}

#[test]
fn the_facade_gives_the_expected_outputs() {
    let cases: Value =
        serde_json::from_str(&std::fs::read_to_string(dir().join("cases.json")).unwrap()).unwrap();
    let mut outputs = serde_json::Map::new();
    for case in cases["cases"].as_array().unwrap() {
        outputs.insert(case["name"].as_str().unwrap().into(), expected(case));
    }
    let actual = serde_json::to_string_pretty(&Value::Object(outputs)).unwrap() + "\n";
    let path = dir().join("expected.json");
    if std::env::var_os("LITESHIFT_CONTRACT_UPDATE").is_some() {
        std::fs::write(&path, &actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        expected == actual,
        "tests/contract/expected.json differs from the facade's outputs; review and regenerate with LITESHIFT_CONTRACT_UPDATE=1 cargo test -p liteshift-contract --test contract:\n{}",
        first_difference(&expected, &actual)
    );
}

fn first_difference(expected: &str, actual: &str) -> String {
    for (n, (e, a)) in expected.lines().zip(actual.lines()).enumerate() {
        if e != a {
            return format!("line {}:\n- {e}\n+ {a}", n + 1);
        }
    }
    format!(
        "lengths differ: {} lines expected, {} actual",
        expected.lines().count(),
        actual.lines().count()
    )
}

#[test]
fn the_expected_outputs_cover_each_kind_of_outcome() {
    // The cases must keep covering what the contract promises: in sync, a native change, a
    // rebuild, a refusal with its remedy, a parse error with its position, a violation with
    // examples, an invalid option.
    let text = std::fs::read_to_string(dir().join("expected.json")).unwrap();
    let all: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(all["in_sync"]["ok"]["inSync"], true);
    assert_eq!(
        all["native_add_column"]["ok"]["plan"]["steps"][0]["rewritesRows"],
        false
    );
    assert_eq!(
        all["rebuild"]["ok"]["plan"]["steps"][0]["cost"]["kind"],
        "constant"
    );
    assert!(all["rebuild"]["ok"]["plan"]["steps"]
        .as_array()
        .unwrap()
        .iter()
        .any(|s| s["rewritesRows"] == true));
    let refusal = &all["data_loss_refused"]["error"];
    assert_eq!(refusal["code"], "data_loss_refused");
    assert!(refusal["messages"]["python"]
        .as_str()
        .unwrap()
        .contains("allow_data_loss=True"));
    let parse = &all["parse_error"]["error"];
    assert_eq!(
        (parse["code"].as_str(), parse["line"].as_u64()),
        (Some("schema_error"), Some(2))
    );
    assert_eq!(
        all["parse_error_default_name"]["error"]["sourceName"],
        "<schema>"
    );
    let violation = &all["violation"]["error"]["violations"][0];
    assert!(!violation["examples"].as_array().unwrap().is_empty());
    assert_eq!(all["invalid_option"]["error"]["code"], "invalid_option");
}
