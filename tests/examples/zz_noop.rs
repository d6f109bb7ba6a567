use liteshift::{migrate, Options};
use rusqlite::Connection;
fn main() {
    let sql: String = (0..100usize).map(|i| format!("CREATE TABLE t{i}(id INTEGER PRIMARY KEY, name TEXT NOT NULL, qty INTEGER DEFAULT 0, parent INTEGER REFERENCES t{}(id), note TEXT CHECK (length(note) < 100));\nCREATE INDEX t{i}_name ON t{i}(name);\n", i.saturating_sub(1))).collect();
    let conn0 = Connection::open_in_memory().unwrap();
    let mut conn = conn0;
    conn.execute_batch(&sql).unwrap();
    for _ in 0..500 {
        migrate(&mut conn, &sql, &Options::default()).unwrap();
    }
}
