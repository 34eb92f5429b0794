//! One-shot answers from the committing thread to a caller waiting in `append` or `flush`.
//!
//! Why not a channel: a crossbeam receiver spins and yields before it sleeps. With many callers
//! on few cores (32 writers on this project's 2-core machines), every waiting caller did that
//! each time, taking CPU from the one thread that commits, syncs and answers them. A caller
//! here sleeps on a condition variable at once; the answer wakes exactly that caller.
//!
//! Invariant: a waiting caller always returns, with the answer, or with [`Unanswered`] once the
//! [`Answerer`] is dropped without answering (the commit carrying it panicked, or the writer
//! stopped) or the timeout passes.

use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// The caller's side: waits for the answer.
pub(crate) struct Answer<T>(Arc<Slot<T>>);

/// The committing thread's side: answers once. Dropping it unanswered wakes the caller.
pub(crate) struct Answerer<T>(Arc<Slot<T>>);

/// No answer came: the answerer was dropped, or the wait timed out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Unanswered;

struct Slot<T> {
    state: Mutex<State<T>>,
    changed: Condvar,
}

enum State<T> {
    Waiting,
    Answered(T),
    Abandoned,
}

/// A new answer slot: the answerer goes with the request, the caller keeps the answer.
pub(crate) fn slot<T>() -> (Answerer<T>, Answer<T>) {
    let slot = Arc::new(Slot { state: Mutex::new(State::Waiting), changed: Condvar::new() });
    (Answerer(slot.clone()), Answer(slot))
}

impl<T> Slot<T> {
    /// Sets the state if nobody answered yet, and wakes the caller.
    fn settle(&self, to: State<T>) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if matches!(*state, State::Waiting) {
            *state = to;
            drop(state);
            self.changed.notify_one();
        }
    }
}

impl<T> Answerer<T> {
    /// Answers the caller (who may have stopped waiting: then the answer is dropped).
    pub(crate) fn send(self, value: T) {
        self.0.settle(State::Answered(value));
    }
}

impl<T> Drop for Answerer<T> {
    fn drop(&mut self) {
        // After `send` this finds the slot answered and does nothing.
        self.0.settle(State::Abandoned);
    }
}

impl<T> Answer<T> {
    /// Whether the answer is there (or will never come), so that waiting returns at once.
    #[cfg_attr(not(feature = "cluster"), expect(dead_code, reason = "used by the cluster follower only"))]
    pub(crate) fn is_ready(&self) -> bool {
        !matches!(*self.0.state.lock().unwrap_or_else(|e| e.into_inner()), State::Waiting)
    }

    /// Waits for the answer, at most `timeout`.
    pub(crate) fn recv_timeout(self, timeout: Duration) -> Result<T, Unanswered> {
        // `None`: a timeout too long to represent, so no deadline.
        let deadline = Instant::now().checked_add(timeout);
        let mut state = self.0.state.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            match std::mem::replace(&mut *state, State::Waiting) {
                State::Answered(value) => return Ok(value),
                State::Abandoned => return Err(Unanswered),
                State::Waiting => {}
            }
            state = match deadline {
                None => self.0.changed.wait(state).unwrap_or_else(|e| e.into_inner()),
                Some(deadline) => {
                    let left = deadline.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        return Err(Unanswered);
                    }
                    self.0.changed.wait_timeout(state, left).map(|(g, _)| g).unwrap_or_else(|e| e.into_inner().0)
                }
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_answer_sent_before_or_after_the_wait_begins_is_received() {
        let (answerer, answer) = slot();
        answerer.send(7);
        assert_eq!(answer.recv_timeout(Duration::from_secs(1)), Ok(7));

        let (answerer, answer) = slot();
        let t = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            answerer.send("late");
        });
        assert_eq!(answer.recv_timeout(Duration::from_secs(10)), Ok("late"));
        t.join().unwrap();
    }

    #[test]
    fn a_dropped_answerer_wakes_the_caller_with_no_answer() {
        let (answerer, answer) = slot::<u8>();
        let t = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            drop(answerer);
        });
        let started = Instant::now();
        assert_eq!(answer.recv_timeout(Duration::from_secs(10)), Err(Unanswered));
        assert!(started.elapsed() < Duration::from_secs(10), "woken by the drop, not the timeout");
        t.join().unwrap();
    }

    #[test]
    fn no_answer_within_the_timeout_is_unanswered_and_a_later_answer_is_dropped() {
        let (answerer, answer) = slot::<u8>();
        assert_eq!(answer.recv_timeout(Duration::from_millis(10)), Err(Unanswered));
        answerer.send(1);
        // A timeout too long for an `Instant` waits without one.
        let (answerer, answer) = slot::<u8>();
        answerer.send(2);
        assert_eq!(answer.recv_timeout(Duration::MAX), Ok(2));
    }

    #[test]
    fn many_callers_each_get_their_own_answer() {
        let pairs: Vec<_> = (0..64u32).map(|_| slot::<u32>()).collect();
        let (answerers, answers): (Vec<_>, Vec<_>) = pairs.into_iter().unzip();
        let waiters: Vec<_> = answers
            .into_iter()
            .enumerate()
            .map(|(i, a)| std::thread::spawn(move || (i as u32, a.recv_timeout(Duration::from_secs(30)))))
            .collect();
        for (i, answerer) in answerers.into_iter().enumerate().rev() {
            answerer.send(i as u32 * 10);
        }
        for w in waiters {
            let (i, got) = w.join().unwrap();
            assert_eq!(got, Ok(i * 10));
        }
    }
}
