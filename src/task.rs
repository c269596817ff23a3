//! The executor: a Rust future run as a JS promise ([`spawn`]), and a JS promise awaited in Rust
//! ([`settled`]). It does what wasm-bindgen-futures does, without wasm closures: each of those is
//! a table entry, a shim and a JS wrapper, and with its task queue they were about 5 KB of the
//! download. Here JS holds nothing of Rust's but a task's number, and calls back through one
//! exported function, `runTask`.
//!
//! - A task is a boxed future in a list, under a number that is never reused.
//! - Its waker schedules `runTask(number)` on a microtask (`schedule` in js/net.js), once however
//!   often it is woken before it runs. `runTask` polls the future with the task taken out of the
//!   list, so a future that starts another task (a callback calling the client) borrows nothing.
//! - Awaiting a promise hands JS the promise and a fresh number under which the future leaves its
//!   waker (`watch`): JS keeps the outcome in a small array and calls `runTask` with that number,
//!   which wakes whoever awaits (a task of ours, or another executor's, as in the wasm tests). The
//!   future finds the outcome in the array. A dropped future takes its waker back and leaves only
//!   the array, which JS collects; a number nobody holds any more is ignored.
//! - Everything runs on the one JS thread, always from a microtask or a call from JS: never inside
//!   another poll.

use alloc::sync::Arc;
use alloc::task::Wake;
use core::cell::{Cell, RefCell};
use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll, Waker};

use js_sys::{Array, Function, Promise};
use wasm_bindgen::prelude::*;

use crate::prelude::*;

#[wasm_bindgen(module = "/src/js/net.js")]
extern "C" {
    /// Gives net.js the exported `runTask`, which it calls to run a task.
    #[wasm_bindgen(js_name = initTasks)]
    fn init_js(run: &Function);
    /// Runs task `id` on a microtask.
    #[wasm_bindgen(js_name = schedule)]
    fn schedule_js(id: u32);
    /// `[]`, filled with `[ok, value]` when `promise` settles; then task `id` runs.
    #[wasm_bindgen(js_name = watch)]
    fn watch_js(promise: &Promise, id: u32) -> Array;
}

/// A task's future, boxed by the caller: one `spawn` for every kind of future.
pub type Boxed = Pin<Box<dyn Future<Output = Result<JsValue, JsValue>>>>;

struct Task {
    id: u32,
    /// `None` while the task is being polled (taken out of the list).
    future: Option<Boxed>,
    settle: (Function, Function),
}

/// The tasks that have not finished, the wakers of promises being awaited, and the number the
/// next of either gets (one sequence, so `runTask(n)` means one thing).
struct Tasks {
    list: RefCell<Vec<Task>>,
    wakers: RefCell<Vec<(u32, Waker)>>,
    next: Cell<u32>,
    /// Tasks scheduled to run and not yet run: one run however many wakes.
    queued: RefCell<Vec<u32>>,
    /// Whether net.js has `runTask` yet.
    ready: Cell<bool>,
}

// SAFETY: as for `js::Slot`: the wasm build is single-threaded, and no borrow of these cells is
// held across a call that could reach them again (a poll runs with the list released).
unsafe impl Sync for Tasks {}

static TASKS: Tasks = Tasks {
    list: RefCell::new(Vec::new()),
    wakers: RefCell::new(Vec::new()),
    next: Cell::new(1),
    queued: RefCell::new(Vec::new()),
    ready: Cell::new(false),
};

/// A number no task or waker holds (they run out after 4 billion, by which time the first are
/// long gone). Every task and watch starts here, so this is where net.js is first given `runTask`
/// (whatever calls in first: `setup`, or a test that never runs it).
fn number() -> u32 {
    if !TASKS.ready.replace(true) {
        init();
    }
    let n = TASKS.next.get();
    TASKS.next.set(n.wrapping_add(1).max(1));
    n
}

/// Gives net.js the exported `runTask`, straight from the instance's exports: no JS wrapper is
/// needed for a function of one number.
fn init() {
    let run = js_sys::Reflect::get(&wasm_bindgen::exports(), &JsValue::from_str("runTask"));
    if let Ok(run) = run {
        init_js(run.unchecked_ref());
    }
}

/// Runs `future` as a JS promise: it resolves with the future's `Ok` and rejects with its `Err`.
/// The first poll runs now, before the call that spawned it returns: an operation copies its
/// arguments there (`plain`), so a caller who changes or transfers them right after the call
/// cannot change what is sent. Later polls run on microtasks; a task woken while it is being
/// polled (it cannot be: wakes only schedule) would otherwise be lost.
pub fn spawn(future: Boxed) -> Promise {
    let (promise, resolve, reject) = crate::timer::deferred();
    let id = number();
    TASKS.list.borrow_mut().push(Task {
        id,
        future: Some(future),
        settle: (resolve, reject),
    });
    run_task(id);
    promise
}

fn schedule(id: u32) {
    let mut queued = TASKS.queued.borrow_mut();
    if !queued.contains(&id) {
        queued.push(id);
        schedule_js(id);
    }
}

/// Called by net.js on a microtask: polls task `id` once after `schedule`, or wakes what awaits
/// the promise watched under `id`. A number nobody holds any more is ignored.
#[wasm_bindgen(js_name = runTask)]
pub fn run_task(id: u32) {
    let waker = {
        let mut wakers = TASKS.wakers.borrow_mut();
        let at = wakers.iter().position(|w| w.0 == id);
        at.map(|at| wakers.swap_remove(at).1)
    };
    if let Some(w) = waker {
        return w.wake();
    }
    // Each id is queued at most once (see `schedule`) and the order is of no use: a swap_remove,
    // not a `retain` (whose generic body is copied per element type, ~200 bytes each).
    {
        let mut queued = TASKS.queued.borrow_mut();
        if let Some(at) = queued.iter().position(|&q| q == id) {
            queued.swap_remove(at);
        }
    }
    let taken = {
        let mut list = TASKS.list.borrow_mut();
        list.iter_mut()
            .find(|t| t.id == id)
            .and_then(|t| t.future.take())
    };
    let Some(mut future) = taken else { return };
    let waker = Waker::from(Arc::new(Wakes(id)));
    let poll = future.as_mut().poll(&mut Context::from_waker(&waker));
    let mut list = TASKS.list.borrow_mut();
    let Some(at) = list.iter().position(|t| t.id == id) else {
        return;
    };
    match poll {
        Poll::Pending => list[at].future = Some(future),
        Poll::Ready(outcome) => {
            let (resolve, reject) = list.swap_remove(at).settle;
            drop(list);
            // Dropped before settling: what the future held (timers, signals) is let go first.
            drop(future);
            let (f, v) = match outcome {
                Ok(v) => (resolve, v),
                Err(e) => (reject, e),
            };
            let _ = f.call1(&JsValue::UNDEFINED, &v);
        }
    }
}

/// A task's waker: scheduling it is all waking does.
struct Wakes(u32);

impl Wake for Wakes {
    fn wake(self: Arc<Self>) {
        schedule(self.0);
    }
}

/// The outcome of a JS promise: its value, or what it rejected with.
pub fn settled(promise: Promise) -> Settled {
    Settled {
        promise: Some(promise),
        id: 0,
        outcome: None,
    }
}

/// See [`settled`].
pub struct Settled {
    /// Until the first poll, which hands it to JS.
    promise: Option<Promise>,
    /// The number its waker is left under while it waits.
    id: u32,
    /// Where JS puts `[ok, value]`.
    outcome: Option<Array>,
}

impl Future for Settled {
    type Output = Result<JsValue, JsValue>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        if let Some(p) = self.promise.take() {
            self.id = number();
            self.outcome = Some(watch_js(&p, self.id));
        }
        match &self.outcome {
            Some(o) if o.length() == 2 => {
                let value = o.get(1);
                Poll::Ready(if o.get(0).is_truthy() {
                    Ok(value)
                } else {
                    Err(value)
                })
            }
            _ => {
                // Left (or replaced: the awaiting task may have moved) for `runTask(id)`.
                let mut wakers = TASKS.wakers.borrow_mut();
                match wakers.iter_mut().find(|w| w.0 == self.id) {
                    Some(w) => w.1.clone_from(cx.waker()),
                    None => wakers.push((self.id, cx.waker().clone())),
                }
                Poll::Pending
            }
        }
    }
}

impl Drop for Settled {
    fn drop(&mut self) {
        // Settled or abandoned: the waker is not needed any more.
        if self.id != 0 {
            let mut wakers = TASKS.wakers.borrow_mut();
            if let Some(at) = wakers.iter().position(|w| w.0 == self.id) {
                wakers.swap_remove(at);
            }
        }
    }
}
