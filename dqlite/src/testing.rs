//! A three-node `dqlite-demo` cluster on loopback, for tests and the bench (feature
//! `testing`). Each node runs in its own temporary directory; every node this module starts
//! is killed by its pid when the [`Cluster`] is dropped, on every path (a panicking test
//! included).

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::client::{ConnectOptions, Connection};

/// Whether `dqlite-demo` can run here: installs `go-dqlite` with apt-get when root and it is
/// missing; otherwise the reason to skip, with the command that installs it.
pub fn available() -> Result<(), String> {
    if which("dqlite-demo") {
        return Ok(());
    }
    let root = Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false);
    if root && which("apt-get") {
        let ok = Command::new("sh")
            .arg("-c")
            .arg("apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq go-dqlite >/dev/null")
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        if ok && which("dqlite-demo") {
            return Ok(());
        }
    }
    Err("dqlite-demo is not installed (install it with: sudo apt-get install -y go-dqlite)".into())
}

fn which(cmd: &str) -> bool {
    Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {cmd} >/dev/null"))
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// One node: its addresses, directory and (while running) process.
pub struct Node {
    pub api: String,
    pub db: String,
    pub dir: PathBuf,
    join: Option<String>,
    child: Option<Child>,
}

impl Node {
    fn start(&mut self) {
        let mut cmd = Command::new("dqlite-demo");
        cmd.args(["--api", &self.api, "--db", &self.db, "--dir"])
            .arg(&self.dir);
        if let Some(j) = &self.join {
            cmd.args(["--join", j]);
        }
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.with_extension("log"))
            .expect("node log");
        cmd.stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log);
        std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
        self.child = Some(cmd.spawn().expect("start dqlite-demo"));
    }

    /// The node's pid while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    pub fn running(&self) -> bool {
        self.child.is_some()
    }

    /// SIGKILL, and reap.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Three nodes on loopback.
pub struct Cluster {
    pub nodes: Vec<Node>,
    _dir: TempDir,
}

/// A temporary directory removed on drop (no dependency for three lines).
struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

impl Cluster {
    /// Start three nodes (the second and third join the first) and wait until every node
    /// names the same leader and the cluster serves a query.
    pub fn start() -> Cluster {
        let base = std::env::temp_dir().join(format!(
            "liteshift-dqlite-{}-{}",
            std::process::id(),
            free_port()
        ));
        std::fs::create_dir_all(&base).expect("cluster dir");
        let mut nodes = Vec::new();
        let mut first_db = None;
        for i in 1..=3 {
            let dir = base.join(format!("node{i}"));
            std::fs::create_dir_all(&dir).expect("node dir");
            let db = format!("127.0.0.1:{}", free_port());
            let node = Node {
                api: format!("127.0.0.1:{}", free_port()),
                db: db.clone(),
                dir,
                join: first_db.clone(),
                child: None,
            };
            first_db.get_or_insert(db);
            nodes.push(node);
        }
        let mut cluster = Cluster {
            nodes,
            _dir: TempDir(base),
        };
        cluster.nodes[0].start();
        cluster.wait_for_leader(Duration::from_secs(60));
        cluster.nodes[1].start();
        cluster.nodes[2].start();
        cluster.wait_for_voters(3, Duration::from_secs(60));
        cluster
    }

    /// The nodes' database addresses.
    pub fn addresses(&self) -> Vec<String> {
        self.nodes.iter().map(|n| n.db.clone()).collect()
    }

    /// `dqlite://…all nodes…/name`.
    pub fn url(&self, name: &str) -> String {
        format!("dqlite://{}/{name}", self.addresses().join(","))
    }

    /// The URL through one node only (a client that knows one node).
    pub fn url_via(&self, node: usize, name: &str) -> String {
        format!("dqlite://{}/{name}", self.nodes[node].db)
    }

    /// The index of the current leader, waiting up to `timeout` for one.
    pub fn wait_for_leader(&self, timeout: Duration) -> usize {
        let started = Instant::now();
        loop {
            let running: Vec<String> = self
                .nodes
                .iter()
                .filter(|n| n.running())
                .map(|n| n.db.clone())
                .collect();
            let opts = ConnectOptions {
                leader_timeout: Duration::from_millis(0),
                response_timeout: Some(Duration::from_secs(5)),
            };
            if let Ok(c) = Connection::connect(&running, "liteshift_probe", &opts) {
                if c.query("SELECT 1").is_ok() {
                    if let Some(i) = self.nodes.iter().position(|n| n.db == c.address()) {
                        return i;
                    }
                }
            }
            assert!(
                started.elapsed() < timeout,
                "no dqlite leader within {timeout:?}"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    fn wait_for_voters(&self, n: usize, timeout: Duration) {
        let started = Instant::now();
        let servers = self.addresses().join(",");
        loop {
            let out = Command::new("dqlite")
                .args(["-s", &servers, "liteshift_probe", ".cluster"])
                .stderr(Stdio::null())
                .output();
            if let Ok(o) = out {
                let voters = String::from_utf8_lossy(&o.stdout)
                    .lines()
                    .filter(|l| l.ends_with("|voter"))
                    .count();
                if voters >= n {
                    self.wait_for_leader(timeout);
                    return;
                }
            }
            assert!(
                started.elapsed() < timeout,
                "the cluster did not reach {n} voters within {timeout:?}"
            );
            std::thread::sleep(Duration::from_millis(300));
        }
    }

    /// SIGKILL node `i`.
    pub fn kill(&mut self, i: usize) {
        self.nodes[i].kill();
    }

    /// Start node `i` again (after a kill), on its directory and addresses.
    pub fn restart(&mut self, i: usize) {
        if !self.nodes[i].running() {
            self.nodes[i].start();
        }
    }

    /// Restart every stopped node and wait until each answers with the leader's address
    /// (it is up and in touch with the leader).
    pub fn heal(&mut self) {
        for i in 0..self.nodes.len() {
            self.restart(i);
        }
        let started = Instant::now();
        let opts = ConnectOptions {
            leader_timeout: Duration::from_millis(0),
            response_timeout: Some(Duration::from_secs(5)),
        };
        for n in &self.nodes {
            while Connection::connect(std::slice::from_ref(&n.db), "liteshift_probe", &opts)
                .is_err()
            {
                assert!(
                    started.elapsed() < Duration::from_secs(60),
                    "node {} did not rejoin within 60 s",
                    n.db
                );
                std::thread::sleep(Duration::from_millis(200));
            }
        }
    }

    /// The pids of the running nodes.
    pub fn pids(&self) -> Vec<u32> {
        self.nodes.iter().filter_map(Node::pid).collect()
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for n in &mut self.nodes {
            n.kill();
        }
        if std::thread::panicking() {
            // A failing test: the end of each node's log, before the directory goes.
            for n in &self.nodes {
                let log = std::fs::read_to_string(n.dir.with_extension("log")).unwrap_or_default();
                let lines: Vec<&str> = log.lines().collect();
                eprintln!("--- dqlite-demo {} (last 30 lines of its log) ---", n.db);
                for l in &lines[lines.len().saturating_sub(30)..] {
                    eprintln!("{l}");
                }
            }
        }
    }
}
