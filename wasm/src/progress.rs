//! `options.onProgress`: the contract's [`ProgressEvent`]s as plain objects passed to the
//! page's function. Converts values only; the page's clock (`Date.now()`) times each step,
//! since wasm32-unknown-unknown has none.

use std::cell::Cell;
use std::sync::Arc;

use liteshift_contract::ProgressEvent;
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
    fn tell(&self, event: ProgressEvent) {
        let _ = self.on_progress.call1(&JsValue::NULL, &self.object(event));
    }

    /// The event as the page receives it: the contract's fields, serialized without
    /// `milliseconds` (serde's float formatting costs the module about 3 KB gzipped), which is
    /// set on the object afterwards (a float is a plain JavaScript number).
    fn object(&self, event: ProgressEvent) -> JsValue {
        let ms = match &event {
            ProgressEvent::StepStarted { .. } => {
                self.started.set(js_sys::Date::now());
                None
            }
            ProgressEvent::Rows { .. } => None,
            ProgressEvent::StepFinished { .. } => {
                Some((js_sys::Date::now() - self.started.get()).max(0.0))
            }
        };
        let o = crate::to_js(&Event(&event));
        if let Some(ms) = ms {
            let _ = js_sys::Reflect::set(&o, &"milliseconds".into(), &JsValue::from_f64(ms));
        }
        o
    }
}

/// A [`ProgressEvent`] serialized as the contract names it, but for `milliseconds`.
struct Event<'a>(&'a ProgressEvent);

impl Serialize for Event<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(None)?;
        match self.0 {
            ProgressEvent::StepStarted {
                step,
                total,
                reason,
                rewrites_rows,
                cost,
            } => {
                m.serialize_entry("event", "stepStarted")?;
                m.serialize_entry("step", step)?;
                m.serialize_entry("total", total)?;
                m.serialize_entry("reason", reason)?;
                m.serialize_entry("rewritesRows", rewrites_rows)?;
                m.serialize_entry("cost", cost)?;
            }
            ProgressEvent::Rows { step, total, rows } => {
                m.serialize_entry("event", "rows")?;
                m.serialize_entry("step", step)?;
                m.serialize_entry("total", total)?;
                m.serialize_entry("rows", rows)?;
            }
            ProgressEvent::StepFinished {
                step,
                total,
                reason,
                rows_changed,
                ..
            } => {
                m.serialize_entry("event", "stepFinished")?;
                m.serialize_entry("step", step)?;
                m.serialize_entry("total", total)?;
                m.serialize_entry("reason", reason)?;
                m.serialize_entry("rowsChanged", rows_changed)?;
            }
        }
        m.end()
    }
}
