//! Runs a request's future with JavaScript awaiting its I/O, instead of
//! `wasm-bindgen-futures`' executor.
//!
//! Why: with `wasm-bindgen-futures`, every `.await` on a JS promise builds two
//! closures (each registered with a `FinalizationRegistry`), the request itself is a
//! `future_to_promise` with two more, and every wake-up goes through the runtime's
//! `queueMicrotask`, which workerd wraps in a C++ callback. In workerd's profiles of a
//! cookie request those were the largest part of the worker's own JavaScript time
//! (BENCHMARKS.md: the "JS-driven task vs wasm-bindgen-futures' executor" rows).
//!
//! How: [`run`] polls the future once. If it finished, its value is the answer. If
//! it waits, the promises it waits on go to a small JS loop (`drive`), which awaits
//! them natively and calls back into the task with the outcome, until the future
//! finishes: one closure per request, no microtask queue of our own.
//!
//! Leaf I/O goes through [`Io`]: polled inside a driven task, it hands its promise
//! to the task instead of subscribing to it. Any other future (the `worker` crate's
//! `JsFuture`s) subscribes as usual and wakes the task through its [`Waker`]; a task
//! that waits on nothing but wake-ups hands JS a promise the waker resolves. The
//! futures here only ever `join` (never race), so awaiting every handed-over promise
//! before polling again loses nothing. A future that raced `Io`s (a `select`, a
//! timeout) would wait for the slowest of them: change this module before adding one.
//!
//! An `Io` polled outside a driven task (a Durable Object, a test) falls back to a
//! `JsFuture`, so it works under any executor.

// `make bench`'s comparison build runs requests on wasm-bindgen-futures instead.
#![cfg_attr(feature = "bench-wbg-executor", allow(dead_code))]

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

use wasm_bindgen::prelude::wasm_bindgen;
use worker::js_sys::{Array, Function, Promise};
use worker::wasm_bindgen::{self, closure::Closure, JsCast, JsValue};
use worker::wasm_bindgen_futures::JsFuture;

#[wasm_bindgen(inline_js = r#"
export async function drive(wait, resume) {
  for (;;) {
    let ok = true, value;
    try { value = await wait; } catch (e) { ok = false; value = e; }
    wait = resume(ok, value);
    if (!(wait instanceof Promise)) return wait;
  }
}
export function settleAll(promises) {
  return Promise.all(promises.map((p) => Promise.resolve(p).then((v) => [true, v], (e) => [false, e])));
}
"#)]
extern "C" {
    /// Awaits `wait`, passes its outcome to `resume(ok, value)` and repeats with what
    /// `resume` returns while that is a `Promise`; resolves to the first value that is
    /// not one.
    fn drive(wait: &Promise, resume: &JsValue) -> Promise;
    /// A promise of `[[ok, value], …]`, one pair per promise, once all have settled.
    #[wasm_bindgen(js_name = settleAll)]
    fn settle_all(promises: &Array) -> Promise;
}

/// Where an [`Io`]'s outcome lands when JS delivers it.
type Slot = Rc<Cell<Option<Result<JsValue, JsValue>>>>;

/// What a task shares with its waker and its [`Io`]s.
#[derive(Default)]
struct Shared {
    /// Set by the waker; cleared before each poll.
    woken: Cell<bool>,
    /// Resolves the promise JS awaits while the task waits on wake-ups only.
    resolver: RefCell<Option<Function>>,
    /// Promises handed over by `Io`s during the current poll.
    io: RefCell<Vec<(Promise, Slot)>>,
}

impl Shared {
    fn wake(&self) {
        self.woken.set(true);
        let resolver = self.resolver.borrow_mut().take();
        if let Some(resolve) = resolver {
            // Resolving a promise does not throw.
            let _ = resolve.call0(&JsValue::UNDEFINED);
        }
    }
}

thread_local! {
    /// The task being polled, for the `Io`s it polls.
    static CURRENT: RefCell<Option<Rc<Shared>>> = const { RefCell::new(None) };
    /// Every live task's shared state by id, for wakers (which must be `Send`, so
    /// they carry an id, not the state). Tasks in flight at once in one isolate are
    /// few, so a list will do.
    static TASKS: RefCell<Vec<(u32, Rc<Shared>)>> = const { RefCell::new(Vec::new()) };
    static NEXT_ID: Cell<u32> = const { Cell::new(0) };
}

/// A waker naming its task by id; waking a finished task does nothing.
struct TaskWaker(u32);

impl Wake for TaskWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        let shared =
            TASKS.with(|t| t.borrow().iter().find(|(id, _)| *id == self.0).map(|(_, s)| s.clone()));
        if let Some(shared) = shared {
            shared.wake();
        }
    }
}

/// What the task waits on, so that the outcome JS delivers lands in the right place.
enum Awaiting {
    Nothing,
    One(Slot),
    All(Vec<Slot>),
}

enum Step {
    Done(JsValue),
    Wait(Promise),
}

struct Task {
    id: u32,
    future: Option<Pin<Box<dyn Future<Output = JsValue>>>>,
    shared: Rc<Shared>,
    waker: Waker,
    awaiting: Awaiting,
}

impl Task {
    fn new(future: Pin<Box<dyn Future<Output = JsValue>>>) -> Task {
        let id = NEXT_ID.with(|n| {
            let id = n.get();
            n.set(id.wrapping_add(1));
            id
        });
        let shared = Rc::new(Shared::default());
        TASKS.with(|t| t.borrow_mut().push((id, shared.clone())));
        Task {
            id,
            future: Some(future),
            shared,
            waker: Waker::from(Arc::new(TaskWaker(id))),
            awaiting: Awaiting::Nothing,
        }
    }

    /// Puts the outcome JS awaited where the waiting `Io`s will find it.
    fn deliver(&mut self, ok: bool, value: JsValue) {
        match std::mem::replace(&mut self.awaiting, Awaiting::Nothing) {
            Awaiting::Nothing => {}
            Awaiting::One(slot) => slot.set(Some(if ok { Ok(value) } else { Err(value) })),
            Awaiting::All(slots) => {
                // `settleAll` never rejects and answers one `[ok, value]` per promise.
                let pairs: Option<&Array> = value.dyn_ref();
                for (i, slot) in slots.iter().enumerate() {
                    let outcome = match pairs {
                        Some(pairs) if ok => {
                            let pair: Array = pairs.get(i as u32).unchecked_into();
                            if pair.get(0).is_truthy() {
                                Ok(pair.get(1))
                            } else {
                                Err(pair.get(1))
                            }
                        }
                        _ => Err(value.clone()),
                    };
                    slot.set(Some(outcome));
                }
            }
        }
    }

    /// Polls the future; when it waits, returns the promise JS should await next.
    fn step(&mut self) -> Step {
        let Some(future) = self.future.as_mut() else {
            return Step::Done(JsValue::UNDEFINED);
        };
        self.shared.woken.set(false);
        let outer = CURRENT.with(|c| c.replace(Some(self.shared.clone())));
        let polled = future.as_mut().poll(&mut Context::from_waker(&self.waker));
        CURRENT.with(|c| c.replace(outer));
        if let Poll::Ready(value) = polled {
            self.future = None;
            self.forget();
            return Step::Done(value);
        }
        let mut io = self.shared.io.take();
        match io.len() {
            0 if self.shared.woken.get() => {
                // Woken while polling: poll again after a microtask, as an executor
                // would, so that a future that keeps waking itself cannot spin here.
                Step::Wait(Promise::resolve(&JsValue::UNDEFINED))
            }
            0 => {
                let shared = &self.shared;
                let wake = Promise::new(&mut |resolve, _reject| {
                    *shared.resolver.borrow_mut() = Some(resolve);
                });
                Step::Wait(wake)
            }
            1 => {
                let Some((promise, slot)) = io.pop() else {
                    return Step::Wait(Promise::resolve(&JsValue::UNDEFINED));
                };
                self.awaiting = Awaiting::One(slot);
                // `drive` tells a wait from an answer by `instanceof Promise`.
                if promise.is_instance_of::<Promise>() {
                    Step::Wait(promise)
                } else {
                    Step::Wait(Promise::resolve(&promise))
                }
            }
            _ => {
                let (promises, slots): (Vec<Promise>, Vec<Slot>) = io.into_iter().unzip();
                self.awaiting = Awaiting::All(slots);
                Step::Wait(settle_all(&promises.into_iter().collect::<Array>()))
            }
        }
    }

    /// Unregisters the task: from now on its waker does nothing.
    fn forget(&self) {
        TASKS.with(|t| t.borrow_mut().retain(|(id, _)| *id != self.id));
    }
}

impl Drop for Task {
    /// A task whose request was abandoned (its promise never settled) goes when JS
    /// collects the `resume` closure that owns it.
    fn drop(&mut self) {
        self.forget();
    }
}

/// Runs `future`: its value at once if it finishes without waiting, else a
/// `Promise` of it. The value must not itself be a `Promise`.
pub(crate) fn run(future: impl Future<Output = JsValue> + 'static) -> JsValue {
    let mut task = Task::new(Box::pin(future));
    let first = match task.step() {
        Step::Done(value) => return value,
        Step::Wait(promise) => promise,
    };
    let resume = Closure::<dyn FnMut(bool, JsValue) -> JsValue>::new(move |ok, value| {
        task.deliver(ok, value);
        match task.step() {
            Step::Done(value) => value,
            Step::Wait(promise) => promise.into(),
        }
    });
    drive(&first, &resume.into_js_value()).into()
}

/// A JS promise as a future, handed to the driving task when there is one.
pub(crate) struct Io {
    promise: Option<Promise>,
    slot: Slot,
    fallback: Option<JsFuture>,
}

impl Io {
    pub(crate) fn new(promise: Promise) -> Io {
        Io { promise: Some(promise), slot: Rc::default(), fallback: None }
    }
}

impl Future for Io {
    type Output = Result<JsValue, JsValue>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        if let Some(fallback) = this.fallback.as_mut() {
            return Pin::new(fallback).poll(cx);
        }
        if let Some(outcome) = this.slot.take() {
            return Poll::Ready(outcome);
        }
        if let Some(promise) = this.promise.take() {
            match CURRENT.with(|c| c.borrow().clone()) {
                Some(task) => task.io.borrow_mut().push((promise, this.slot.clone())),
                None => {
                    let mut fallback = JsFuture::from(promise);
                    let polled = Pin::new(&mut fallback).poll(cx);
                    this.fallback = Some(fallback);
                    return polled;
                }
            }
        }
        Poll::Pending
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasm_bindgen_test::wasm_bindgen_test;

    #[wasm_bindgen(inline_js = r#"
    export function later(ms, value, fail) {
      return new Promise((res, rej) => setTimeout(() => (fail ? rej(value) : res(value)), ms));
    }
    "#)]
    extern "C" {
        fn later(ms: u32, value: &JsValue, fail: bool) -> Promise;
    }

    /// Awaits what `run` answers, as workerd would.
    async fn finish(value: JsValue) -> JsValue {
        match value.dyn_into::<Promise>() {
            Ok(promise) => JsFuture::from(promise).await.unwrap_or_else(|e| e),
            Err(value) => value,
        }
    }

    fn registered(id: u32) -> bool {
        TASKS.with(|t| t.borrow().iter().any(|(task, _)| *task == id))
    }

    #[wasm_bindgen_test]
    async fn a_future_that_never_waits_answers_at_once() {
        let out = run(async { JsValue::from(7) });
        assert_eq!(out.as_f64(), Some(7.0), "no promise when nothing waits");
    }

    #[wasm_bindgen_test]
    fn a_task_is_unregistered_when_it_finishes_or_is_dropped() {
        let mut done = Task::new(Box::pin(async { JsValue::NULL }));
        assert!(registered(done.id));
        assert!(matches!(done.step(), Step::Done(v) if v.is_null()));
        assert!(!registered(done.id), "finished");
        let mut waiting = Task::new(Box::pin(async {
            Io::new(later(1, &JsValue::NULL, false)).await.unwrap_or_else(|e| e)
        }));
        assert!(matches!(waiting.step(), Step::Wait(_)));
        let id = waiting.id;
        assert!(registered(id));
        drop(waiting);
        assert!(!registered(id), "abandoned");
    }

    #[wasm_bindgen_test]
    async fn io_in_sequence_and_rejections_arrive_in_order() {
        let out = run(async {
            let a = Io::new(later(5, &"a".into(), false)).await;
            let b = Io::new(later(1, &"b".into(), true)).await;
            let c = Io::new(Promise::resolve(&JsValue::from("c"))).await;
            let show = |r: Result<JsValue, JsValue>| match r {
                Ok(v) => format!("ok:{}", v.as_string().unwrap_or_default()),
                Err(e) => format!("err:{}", e.as_string().unwrap_or_default()),
            };
            JsValue::from(format!("{} {} {}", show(a), show(b), show(c)))
        });
        assert!(out.is_instance_of::<Promise>(), "a waiting future answers a promise");
        assert_eq!(finish(out).await.as_string().as_deref(), Some("ok:a err:b ok:c"));
    }

    #[wasm_bindgen_test]
    async fn joined_io_waits_for_both_and_keeps_each_outcome() {
        let out = run(async {
            let (a, b) = crate::store::join(
                Io::new(later(10, &"slow".into(), false)),
                Io::new(later(1, &"fast".into(), true)),
            )
            .await;
            JsValue::from(format!(
                "{:?} {:?}",
                a.map(|v| v.as_string()),
                b.map_err(|e| e.as_string())
            ))
        });
        assert_eq!(
            finish(out).await.as_string().as_deref(),
            Some(r#"Ok(Some("slow")) Err(Some("fast"))"#)
        );
    }

    #[wasm_bindgen_test]
    async fn other_futures_wake_the_task() {
        // A `JsFuture` (what the `worker` crate awaits) subscribes itself and wakes
        // the task through its waker, alone and mixed with `Io`.
        let out = run(async {
            let a = JsFuture::from(later(3, &1.into(), false)).await;
            let (b, c) = crate::store::join(
                JsFuture::from(later(8, &2.into(), false)),
                Io::new(later(1, &3.into(), false)),
            )
            .await;
            let n = |r: Result<JsValue, JsValue>| r.ok().and_then(|v| v.as_f64()).unwrap_or(-1.0);
            JsValue::from(n(a) * 100.0 + n(b) * 10.0 + n(c))
        });
        assert_eq!(finish(out).await.as_f64(), Some(123.0));
    }

    #[wasm_bindgen_test]
    async fn io_outside_a_driven_task_falls_back_to_js_future() {
        let v = Io::new(later(1, &"plain".into(), false)).await;
        assert_eq!(v.ok().and_then(|v| v.as_string()).as_deref(), Some("plain"));
        let e = Io::new(later(1, &"no".into(), true)).await;
        assert_eq!(e.err().and_then(|v| v.as_string()).as_deref(), Some("no"));
    }

    #[wasm_bindgen_test]
    async fn a_future_that_wakes_itself_does_not_spin_in_one_call() {
        // Yields twice through its own waker: each yield goes back to JS.
        let out = run(async {
            let mut left = 2;
            std::future::poll_fn(move |cx| {
                if left == 0 {
                    return Poll::Ready(());
                }
                left -= 1;
                cx.waker().wake_by_ref();
                Poll::Pending
            })
            .await;
            JsValue::from("yielded")
        });
        assert!(out.is_instance_of::<Promise>());
        assert_eq!(finish(out).await.as_string().as_deref(), Some("yielded"));
    }
}
