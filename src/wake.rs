//! Waits that webhooks wake: each `waitForCompletion` (or flow's wait) with `webhooks` on
//! registers its import id with its client while it sleeps; an event for that id received by the
//! same client's handler (`webhooks.handler`) resolves the sleep at once, and the wait confirms
//! with one GET, as after any sleep. So an event is only ever a reason to look: an unsigned or
//! forged one cannot finish a wait by itself. Also the handler's memory of the events it has
//! seen, so that a delivery sent twice is acted on once. Node's build only (`server`).

use crate::prelude::*;
use alloc::collections::VecDeque;
use core::cell::RefCell;
use js_sys::{Function, Promise};
use wasm_bindgen::JsValue;

/// How many event keys the handler remembers: far more than arrive within any provider's retry
/// window, and a bounded amount of memory.
const SEEN: usize = 10_000;

/// The waits sleeping on a client, and the events its handler has seen.
#[derive(Default)]
pub struct Wakes {
    /// (ticket, import id, the resolver of that wait's wake promise)
    waiting: RefCell<Vec<(u32, String, Function)>>,
    next: core::cell::Cell<u32>,
    seen: RefCell<VecDeque<String>>,
}

/// A sleeping wait's registration; dropping it (woken, timed out, aborted) unregisters it.
pub struct Ticket<'a> {
    wakes: &'a Wakes,
    id: u32,
    /// Resolves when an event for the import arrives.
    pub promise: Promise,
}

impl Drop for Ticket<'_> {
    fn drop(&mut self) {
        // A ticket's id is its own (numbered as made): one entry to drop.
        let mut waiting = self.wakes.waiting.borrow_mut();
        if let Some(at) = waiting.iter().position(|(t, _, _)| *t == self.id) {
            waiting.remove(at);
        }
    }
}

impl Wakes {
    /// Registers a wait for `import_id` until the ticket is dropped.
    pub fn register(&self, import_id: &str) -> Ticket<'_> {
        let (promise, resolve, _) = crate::timer::deferred();
        let id = self.next.get().wrapping_add(1);
        self.next.set(id);
        self.waiting
            .borrow_mut()
            .push((id, import_id.to_string(), resolve));
        Ticket {
            wakes: self,
            id,
            promise,
        }
    }

    /// An event named `key` about `import_id` arrived: wakes the waits for that import (a repeat
    /// too: waking costs only a confirming GET, and an unsigned event could have taken the key
    /// first). Returns whether the event is new, i.e. whether to pass it on.
    pub fn received(&self, key: String, import_id: Option<&str>) -> bool {
        let fresh = {
            let mut seen = self.seen.borrow_mut();
            let fresh = !seen.contains(&key);
            if fresh {
                if seen.len() == SEEN {
                    seen.pop_front();
                }
                seen.push_back(key);
            }
            fresh
        };
        if let Some(id) = import_id {
            // Collected first: a resolver runs JS, which must not find the list borrowed.
            let wake: Vec<Function> = self
                .waiting
                .borrow()
                .iter()
                .filter(|(_, i, _)| i == id)
                .map(|(_, _, f)| f.clone())
                .collect();
            for f in wake {
                let _ = f.call1(&JsValue::UNDEFINED, &JsValue::from_str("wake"));
            }
        }
        fresh
    }
}
