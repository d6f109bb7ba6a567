//! `cargo bench -p liteshift-dqlite --features testing --bench cluster [-- PARENTS]`: a
//! migration (a rebuild of a parent table with two child rows per parent) through a
//! three-node dqlite cluster on loopback, as a ratio to the same migration of the same rows
//! in a local database file, measured in the same run; and an in-sync migrate (no-op).

use std::time::{Duration, Instant};

use liteshift::{Host, Options};
use liteshift_dqlite::testing::{self, Cluster};
use liteshift_dqlite::{ConnectOptions, DqliteHost};

const V1: &str = "
CREATE TABLE parent(id INTEGER PRIMARY KEY, name TEXT, pad TEXT);
CREATE TABLE child(id INTEGER PRIMARY KEY, parent_id INTEGER NOT NULL REFERENCES parent(id) ON DELETE CASCADE, v TEXT);
CREATE INDEX child_parent ON child(parent_id);
";
const V2: &str = "
CREATE TABLE parent(id INTEGER PRIMARY KEY, name TEXT NOT NULL DEFAULT '', pad TEXT, score REAL NOT NULL DEFAULT 0 CHECK (score >= 0));
CREATE TABLE child(id INTEGER PRIMARY KEY, parent_id INTEGER NOT NULL REFERENCES parent(id) ON DELETE CASCADE, v TEXT);
CREATE INDEX child_parent ON child(parent_id);
";

fn seed(host: &mut dyn Host, parents: u64) {
    liteshift::migrate(host, V1, &Options::default()).unwrap();
    host.execute(&format!(
        "INSERT INTO parent(id, name, pad) WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {parents}) \
         SELECT i, 'p' || i, printf('%0100d', i) FROM n"
    ))
    .unwrap();
    host.execute("INSERT INTO child(parent_id, v) SELECT id, 'a' || id FROM parent UNION ALL SELECT id, 'b' || id FROM parent")
        .unwrap();
}

fn timed(host: &mut dyn Host, schema: &str) -> Duration {
    let started = Instant::now();
    let r = liteshift::migrate(host, schema, &Options::default()).unwrap();
    let t = started.elapsed();
    std::hint::black_box(r);
    t
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

fn main() {
    let parents: u64 = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(100_000);
    if let Err(why) = testing::available() {
        eprintln!("SKIPPED: {why}");
        return;
    }
    let cluster = Cluster::start();
    let dir = std::env::temp_dir().join(format!("liteshift-dqlite-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (mut cluster_ms, mut file_ms, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    let (mut noop_cluster, mut noop_file) = (Vec::new(), Vec::new());
    for rep in 0..3 {
        let target = liteshift_dqlite::parse_url(&cluster.url(&format!("bench{rep}"))).unwrap();
        let mut remote = DqliteHost::connect(&target, &ConnectOptions::default()).unwrap();
        seed(&mut remote, parents);
        let path = dir.join(format!("bench{rep}.db"));
        let _ = std::fs::remove_file(&path);
        let mut local = rusqlite::Connection::open(&path).unwrap();
        local.pragma_update(None, "journal_mode", "WAL").unwrap();
        seed(&mut local, parents);
        let c = timed(&mut remote, V2).as_secs_f64() * 1000.0;
        let f = timed(&mut local, V2).as_secs_f64() * 1000.0;
        noop_cluster.push(timed(&mut remote, V2).as_secs_f64() * 1000.0);
        noop_file.push(timed(&mut local, V2).as_secs_f64() * 1000.0);
        println!("rep {rep}: {parents} parents, {} children: cluster {c:.0} ms, local file (WAL) {f:.0} ms, ratio {:.2}", parents * 2, c / f);
        cluster_ms.push(c);
        file_ms.push(f);
        ratios.push(c / f);
    }
    println!(
        "median: cluster {:.0} ms, file {:.0} ms, ratio {:.2}x; in-sync migrate: cluster {:.2} ms, file {:.2} ms, ratio {:.1}x",
        median(cluster_ms),
        median(file_ms),
        median(ratios),
        median(noop_cluster.clone()),
        median(noop_file.clone()),
        median(noop_cluster) / median(noop_file)
    );
    let _ = std::fs::remove_dir_all(&dir);
    drop(cluster);
}
