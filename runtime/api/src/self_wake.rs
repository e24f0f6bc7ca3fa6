//! A connection's task, polled again at once when it wakes itself.
//!
//! hyper's HTTP/1 connection hands a request body to the handler through a
//! channel, and the handler runs inside the connection's own future: the
//! handler taking the body wakes the connection (to read on), and the
//! connection ending the body wakes the handler — the same task, woken while
//! it is being polled. tokio takes a task woken during its own poll for one
//! that yields: it goes to the back of the run queue, and a parked worker
//! thread is woken to steal it. On a server that is not saturated that is a
//! futex wake and two context switches of another thread for every request
//! with a body, which finds nothing to do (BENCHMARKS.md, "Self-wakes").
//!
//! [`SelfWakes`] polls the connection with a waker of its own. A wake that
//! comes while the connection is being polled — from the connection itself,
//! or from another thread meanwhile — only marks it, and the connection is
//! polled again before the task returns; a wake that comes between polls goes
//! to the task's waker as before. After [`MAX_REPOLLS`] polls in a row the
//! task yields to the runtime as it would have, so a connection that keeps
//! waking itself (hyper yields this way after a burst of pipelined requests)
//! still lets other tasks run.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll, Wake, Waker};

use futures::task::AtomicWaker;

/// Polls in a row, at most, before a self-woken task yields to the runtime.
/// A request with a body wakes its connection twice (the body taken, the body
/// ended).
const MAX_REPOLLS: usize = 4;

/// `inner`, polled again at once when woken during its own poll.
pub(crate) struct SelfWakes<F> {
    inner: Pin<Box<F>>,
    state: Arc<State>,
    /// The waker `inner` is polled with: always the same, so that what `inner`
    /// registers it with need not be replaced on every poll.
    waker: Waker,
}

struct State {
    /// Set while `inner` is being polled.
    polling: AtomicBool,
    /// Set by a wake since the last poll began.
    woken: AtomicBool,
    /// The task's waker, for wakes that come between polls.
    task: AtomicWaker,
}

impl<F: Future> SelfWakes<F> {
    pub(crate) fn new(inner: F) -> SelfWakes<F> {
        let state = Arc::new(State {
            polling: AtomicBool::new(false),
            woken: AtomicBool::new(false),
            task: AtomicWaker::new(),
        });
        SelfWakes {
            inner: Box::pin(inner),
            waker: Waker::from(state.clone()),
            state,
        }
    }
}

impl<F: Future> Future for SelfWakes<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.get_mut();
        this.state.task.register(cx.waker());
        let mut inner_cx = Context::from_waker(&this.waker);
        for _ in 0..MAX_REPOLLS {
            this.state.woken.store(false, Ordering::SeqCst);
            this.state.polling.store(true, Ordering::SeqCst);
            let poll = this.inner.as_mut().poll(&mut inner_cx);
            this.state.polling.store(false, Ordering::SeqCst);
            if poll.is_ready() {
                return poll;
            }
            // A wake that saw `polling` set left it to this check; one that
            // came after the store above also went to the task's waker, which
            // at worst polls once more for nothing.
            if !this.state.woken.swap(false, Ordering::SeqCst) {
                return Poll::Pending;
            }
        }
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

impl Wake for State {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.woken.store(true, Ordering::SeqCst);
        if !self.polling.load(Ordering::SeqCst) {
            self.task.wake();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    /// Counts the wakes of the task's own waker.
    #[derive(Default)]
    struct Count(AtomicUsize);

    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    fn task() -> (Arc<Count>, Waker) {
        let count = Arc::new(Count::default());
        (count.clone(), Waker::from(count))
    }

    /// Wakes itself `times` times, one per poll, then is ready with its polls.
    fn waking_itself(times: usize) -> impl Future<Output = usize> {
        let mut polls = 0;
        std::future::poll_fn(move |cx| {
            polls += 1;
            if polls > times {
                Poll::Ready(polls)
            } else {
                cx.waker().wake_by_ref();
                Poll::Pending
            }
        })
    }

    #[test]
    fn a_future_that_wakes_itself_is_polled_again_without_waking_the_task() {
        let (count, waker) = task();
        let mut cx = Context::from_waker(&waker);
        let mut future = std::pin::pin!(SelfWakes::new(waking_itself(2)));
        assert_eq!(future.as_mut().poll(&mut cx), Poll::Ready(3));
        assert_eq!(count.0.load(Ordering::SeqCst), 0);
    }

    #[test]
    fn one_that_keeps_waking_itself_yields_to_the_runtime() {
        let (count, waker) = task();
        let mut cx = Context::from_waker(&waker);
        let mut future = std::pin::pin!(SelfWakes::new(waking_itself(usize::MAX)));
        assert!(future.as_mut().poll(&mut cx).is_pending());
        // Woken, as a future that yields is, so the runtime polls it again later.
        assert_eq!(count.0.load(Ordering::SeqCst), 1);
        assert!(future.as_mut().poll(&mut cx).is_pending());
        assert_eq!(count.0.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn a_wake_between_polls_reaches_the_task() {
        let (count, waker) = task();
        let mut cx = Context::from_waker(&waker);
        let (send, receive) = futures::channel::oneshot::channel::<u8>();
        let mut future = std::pin::pin!(SelfWakes::new(receive));
        assert!(future.as_mut().poll(&mut cx).is_pending());
        assert_eq!(count.0.load(Ordering::SeqCst), 0);
        std::thread::spawn(move || send.send(7).unwrap())
            .join()
            .unwrap();
        assert_eq!(count.0.load(Ordering::SeqCst), 1);
        assert_eq!(future.as_mut().poll(&mut cx), Poll::Ready(Ok(7)));
    }

    /// On a runtime: whatever the interleaving of wakes from other threads
    /// with the connection's polls, none is lost.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn no_wake_from_another_thread_is_lost() {
        for _ in 0..2_000 {
            let (send, mut receive) = tokio::sync::mpsc::channel::<u32>(1);
            let sender = tokio::spawn(async move {
                for n in 0..10 {
                    send.send(n).await.unwrap();
                }
            });
            let received = tokio::spawn(SelfWakes::new(async move {
                let mut all = Vec::new();
                while let Some(n) = receive.recv().await {
                    all.push(n);
                }
                all
            }));
            sender.await.unwrap();
            assert_eq!(received.await.unwrap(), (0..10).collect::<Vec<_>>());
        }
    }
}
