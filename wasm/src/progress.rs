//! `options.onProgress`: the contract's [`ProgressEvent`]s as plain objects passed to the
//! page's function. Converts values only; the page's clock (`Date.now()`) times each step,
//! since wasm32-unknown-unknown has none.

use std::cell::Cell;
use std::sync::Arc;

use liteshift_contract::ProgressEvent;
use wasm_bindgen::prelude::*;

/// The page's `onProgress` function.
#[derive(Clone)]
pub struct OnProgress(pub js_sys::Function);

impl std::fmt::Debug for OnProgress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("onProgress")
    }
}

/// The listener's state: the page's function and when the running step started.
struct Page {
    on_progress: js_sys::Function,
    started: Cell<f64>,
}

// SAFETY: this module is built for wasm32-unknown-unknown without the `atomics` feature: one
// thread, so the function is only ever called on the thread that gave it. The core asks for
// `Send + Sync` because native hosts migrate fleets from many threads.
unsafe impl Send for Page {}
unsafe impl Sync for Page {}

/// The contract's listener for the page's function. An exception it throws is ignored (the
/// migration goes on; a progress display must not decide its outcome).
pub fn listener(f: &OnProgress) -> liteshift_contract::OnProgress {
    let page = Page {
        on_progress: f.0.clone(),
        started: Cell::new(0.0),
    };
    Arc::new(move |e| page.tell(e))
}

impl Page {
    fn tell(&self, mut event: ProgressEvent) {
        match &mut event {
            ProgressEvent::StepStarted { .. } => self.started.set(js_sys::Date::now()),
            ProgressEvent::StepFinished { milliseconds, .. } => {
                *milliseconds = (js_sys::Date::now() - self.started.get()).max(0.0)
            }
            ProgressEvent::Rows { .. } => {}
        }
        let _ = self
            .on_progress
            .call1(&JsValue::NULL, &crate::to_js(&event));
    }
}
