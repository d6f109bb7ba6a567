//! `apply --progress`: the migration's progress on stderr, as an indicatif bar per step on a
//! terminal (rows copied, rows/s, ETA from the plan's estimate) or as JSON lines. Only turns
//! the library's [`Progress`] events into output; never touches the database.

use std::io::{IsTerminal, Write};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use clap::ValueEnum;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle};
use liteshift::Cost;
use liteshift::{Progress, ProgressObserver};

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Mode {
    /// A bar on a terminal with --format text; nothing otherwise.
    Auto,
    /// A bar per step on stderr (drawn only on a terminal).
    Bar,
    /// One JSON object per line on stderr: step_started, rows, step_finished.
    Json,
    /// Nothing.
    None,
}

/// The observer for `mode` (`text`: the output format is text), or none.
pub fn observer(mode: Mode, text: bool) -> Option<ProgressObserver> {
    match mode {
        Mode::Auto if text && std::io::stderr().is_terminal() => Some(bar()),
        Mode::Auto | Mode::None => None,
        Mode::Bar => Some(bar()),
        Mode::Json => Some(json_lines()),
    }
}

fn bar() -> ProgressObserver {
    let current: Mutex<Option<(ProgressBar, Instant)>> = Mutex::new(None);
    ProgressObserver::new(move |p| {
        let mut current = current.lock().expect("progress bar");
        match p {
            Progress::Started {
                number,
                total,
                step,
            } => {
                let prefix = format!("step {number}/{total}: {}", step.reason);
                let pb = match step.cost.estimate() {
                    Some(e) if step.rewrites_rows && e.rows > 0 => {
                        let pb = ProgressBar::with_draw_target(
                            Some(e.rows),
                            ProgressDrawTarget::stderr(),
                        );
                        pb.set_style(
                            ProgressStyle::with_template(
                                "{prefix} [{bar:30}] {human_pos}/~{human_len} rows, {rows_per_sec} rows/s, ETA {eta}",
                            )
                            .expect("template")
                            .with_key("rows_per_sec", |s: &ProgressState, w: &mut dyn std::fmt::Write| {
                                let _ = write!(w, "{}", liteshift::thousands(s.per_sec() as u64));
                            })
                            .progress_chars("=> "),
                        );
                        pb
                    }
                    _ => {
                        let pb = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
                        pb.set_style(
                            ProgressStyle::with_template("{spinner} {prefix} ({elapsed})")
                                .expect("template"),
                        );
                        pb.enable_steady_tick(Duration::from_millis(120));
                        pb
                    }
                };
                pb.set_prefix(prefix);
                *current = Some((pb, Instant::now()));
            }
            Progress::Rows { rows, .. } => {
                if let Some((pb, _)) = &*current {
                    if pb.length().is_some_and(|len| *rows > len) {
                        pb.set_length(*rows);
                    }
                    pb.set_position(*rows);
                }
            }
            Progress::Finished { total, done } => {
                if let Some((pb, started)) = current.take() {
                    pb.finish_and_clear();
                    // A step that rewrote rows leaves a line: what it did and how fast.
                    if done.step.rewrites_rows {
                        let secs = started.elapsed().as_secs_f64();
                        pb.println(format!(
                            "step {}/{total}: {} — {} rows in {secs:.1} s",
                            done.number,
                            done.step.reason,
                            liteshift::thousands(done.rows_changed)
                        ));
                    }
                }
            }
        }
    })
}

/// At most this often a `rows` line (a rebuild reports rows every few thousand).
const JSON_ROWS_EVERY: Duration = Duration::from_millis(100);

fn json_lines() -> ProgressObserver {
    let last_rows: Mutex<Option<Instant>> = Mutex::new(None);
    ProgressObserver::new(move |p| {
        let line = match p {
            Progress::Started {
                number,
                total,
                step,
            } => serde_json::json!({
                "event": "step_started",
                "step": number,
                "total": total,
                "reason": step.reason,
                "cost": step.cost,
            }),
            Progress::Rows {
                number,
                total,
                rows,
            } => {
                let mut last = last_rows.lock().expect("progress clock");
                if last.is_some_and(|t| t.elapsed() < JSON_ROWS_EVERY) {
                    return;
                }
                *last = Some(Instant::now());
                serde_json::json!({
                    "event": "rows",
                    "step": number,
                    "total": total,
                    "rows": rows,
                })
            }
            Progress::Finished { total, done } => serde_json::json!({
                "event": "step_finished",
                "step": done.number,
                "total": total,
                "milliseconds": done.elapsed.as_secs_f64() * 1000.0,
                "rows_changed": done.rows_changed,
                "estimated_rows": match &done.step.cost {
                    Cost::Constant => None,
                    c => c.estimate().map(|e| e.rows),
                },
            }),
        };
        let mut err = std::io::stderr().lock();
        let _ = writeln!(err, "{line}");
    })
}

/// A fleet's progress: the databases done of all, on a bar (each file's line printed above
/// it), as JSON lines (`{"event": "database_done", "done", "total", "path", "outcome", ...}`),
/// or only the lines.
pub enum Fleet {
    Lines,
    Bar(ProgressBar),
    Json { total: u64, done: Mutex<u64> },
}

impl Fleet {
    pub fn new(mode: Mode, text: bool, total: u64) -> Fleet {
        match mode {
            Mode::Auto if text && std::io::stderr().is_terminal() => Fleet::bar(total),
            Mode::Bar => Fleet::bar(total),
            Mode::Json => Fleet::Json {
                total,
                done: Mutex::new(0),
            },
            Mode::Auto | Mode::None => Fleet::Lines,
        }
    }

    fn bar(total: u64) -> Fleet {
        let pb = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
        pb.set_style(
            ProgressStyle::with_template(
                "[{bar:30}] {human_pos}/{human_len} databases, {per_sec_int}/s, ETA {eta}",
            )
            .expect("template")
            .with_key(
                "per_sec_int",
                |s: &ProgressState, w: &mut dyn std::fmt::Write| {
                    let _ = write!(w, "{}", liteshift::thousands(s.per_sec() as u64));
                },
            )
            .progress_chars("=> "),
        );
        Fleet::Bar(pb)
    }

    /// One database is done; `line` is its line of text output.
    pub fn done(&self, r: &liteshift::fleet::FleetResult, line: Option<String>) {
        match self {
            Fleet::Lines => {
                if let Some(l) = line {
                    println!("{l}");
                }
            }
            Fleet::Bar(pb) => {
                if let Some(l) = line {
                    // On stdout (which may be a file), with the bar out of the way meanwhile.
                    pb.suspend(|| println!("{l}"));
                }
                pb.inc(1);
            }
            Fleet::Json { total, done } => {
                if let Some(l) = line {
                    println!("{l}");
                }
                let mut n = done.lock().expect("fleet progress");
                *n += 1;
                let mut event = serde_json::to_value(r).unwrap_or_default();
                event["event"] = "database_done".into();
                event["done"] = (*n).into();
                event["total"] = (*total).into();
                let mut err = std::io::stderr().lock();
                let _ = writeln!(err, "{event}");
            }
        }
    }

    pub fn finish(&self) {
        if let Fleet::Bar(pb) = self {
            pb.finish_and_clear();
        }
    }
}
