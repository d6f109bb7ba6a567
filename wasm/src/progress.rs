//! `options.onProgress`: the core's [`Progress`] events as plain objects passed to the page's
//! function. Converts values only; the page's clock (`Date.now()`) times each step, since
//! wasm32-unknown-unknown has none.

use std::cell::Cell;

use liteshift::Cost;
use liteshift::{Progress, ProgressObserver};
use serde::Serialize;
use wasm_bindgen::prelude::*;

/// The page's `onProgress` function.
#[derive(Clone)]
pub struct OnProgress(pub js_sys::Function);

impl std::fmt::Debug for OnProgress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("onProgress")
    }
}

/// The observer's state: the page's function and when the running step started.
struct Page {
    on_progress: js_sys::Function,
    started: Cell<f64>,
}

// SAFETY: this module is built for wasm32-unknown-unknown without the `atomics` feature: one
// thread, so the function is only ever called on the thread that gave it. The core asks for
// `Send + Sync` because native hosts migrate fleets from many threads.
unsafe impl Send for Page {}
unsafe impl Sync for Page {}

/// One event, as the page receives it.
#[derive(Serialize)]
#[serde(rename_all = "camelCase", tag = "event")]
enum Event<'a> {
    #[serde(rename_all = "camelCase")]
    StepStarted {
        step: usize,
        total: usize,
        reason: &'a str,
        rewrites_rows: bool,
        cost: &'a Cost,
    },
    #[serde(rename_all = "camelCase")]
    Rows {
        step: usize,
        total: usize,
        rows: u64,
    },
    #[serde(rename_all = "camelCase")]
    StepFinished {
        step: usize,
        total: usize,
        milliseconds: u64,
        rows_changed: u64,
    },
}

/// The core's observer for the page's function. An exception it throws is ignored (the
/// migration goes on; a progress display must not decide its outcome).
pub fn observer(f: &OnProgress) -> ProgressObserver {
    let page = Page {
        on_progress: f.0.clone(),
        started: Cell::new(0.0),
    };
    ProgressObserver::new(move |p| page.tell(p))
}

impl Page {
    fn tell(&self, p: &Progress<'_>) {
        let page = self;
        let event = match p {
            Progress::Started {
                number,
                total,
                step,
            } => {
                page.started.set(js_sys::Date::now());
                Event::StepStarted {
                    step: *number,
                    total: *total,
                    reason: &step.reason,
                    rewrites_rows: step.rewrites_rows,
                    cost: &step.cost,
                }
            }
            Progress::Rows {
                number,
                total,
                rows,
            } => Event::Rows {
                step: *number,
                total: *total,
                rows: *rows,
            },
            Progress::Finished { total, done } => Event::StepFinished {
                step: done.number,
                total: *total,
                milliseconds: (js_sys::Date::now() - page.started.get()).max(0.0) as u64,
                rows_changed: done.rows_changed,
            },
        };
        let _ = page
            .on_progress
            .call1(&JsValue::NULL, &crate::to_js(&event));
    }
}
