//! Phones hear new counts in turns. A session's phones read their view through one of
//! [`TURNS`] watches; a new `state` reaches all of them at once, but an `upvotes`
//! message alone (counts that moved, nothing else) reaches one turn after the other
//! within [`UPVOTES_TICK`]. So a second of upvotes wakes 19,000 connections a few
//! hundred at a time, and a vote that arrives meanwhile waits behind a few hundred
//! socket writes, not behind all of them (docs/PERFORMANCE.md, "Upvotes during a vote
//! burst").

use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::watch;
use tokio::time::Instant;

use super::actor::UPVOTES_TICK;
use super::handle::Published;

/// How many turns a second of counts is cut into.
pub const TURNS: usize = 20;

/// The turns of one session's phone view.
pub(super) struct Spread {
    turns: Vec<watch::Receiver<Published>>,
    next: AtomicUsize,
}

impl Spread {
    /// Starts passing `source` on in turns; the turns close when `source` does, after
    /// its last value.
    pub(super) fn start(source: watch::Receiver<Published>) -> Spread {
        let first = source.borrow().clone();
        let (senders, turns): (Vec<_>, Vec<_>) =
            (0..TURNS).map(|_| watch::channel(first.clone())).unzip();
        tokio::spawn(pass_on(source, senders));
        Spread {
            turns,
            next: AtomicUsize::new(0),
        }
    }

    /// A receiver for one more connection, the turns taken round.
    pub(super) fn subscribe(&self) -> watch::Receiver<Published> {
        let turn = self.next.fetch_add(1, Ordering::Relaxed) % self.turns.len();
        self.turns[turn].clone()
    }
}

/// Passes each new view of `source` on to `turns`: a new state to all at once, counts
/// alone to one turn per slot of the tick, the newest counts each time.
async fn pass_on(mut source: watch::Receiver<Published>, turns: Vec<watch::Sender<Published>>) {
    let slot = UPVOTES_TICK / turns.len() as u32;
    // The next turn to hear the counts, and when.
    let mut next: Option<(usize, Instant)> = None;
    loop {
        tokio::select! {
            changed = source.changed() => {
                if changed.is_err() {
                    return;
                }
                let now = source.borrow_and_update().clone();
                if turns[0].borrow().state != now.state {
                    for turn in &turns {
                        turn.send_replace(now.clone());
                    }
                    next = None;
                } else if next.is_none() {
                    next = Some((0, Instant::now()));
                }
            }
            () = sleep_until_some(next.map(|(_, at)| at)) => {
                let Some((turn, at)) = next else { continue };
                let now = source.borrow().clone();
                turns[turn].send_if_modified(|held| {
                    // A state that came in meanwhile went to every turn already.
                    let newer = held.state == now.state && *held != now;
                    if newer {
                        *held = now.clone();
                    }
                    newer
                });
                next = if turn + 1 < turns.len() {
                    Some((turn + 1, at + slot))
                } else if *turns[0].borrow() != now {
                    // Counts moved again while the last turns heard: round once more.
                    Some((0, Instant::now().max(at + slot)))
                } else {
                    None
                };
            }
        }
    }
}

/// Resolves at `at`; never without one.
async fn sleep_until_some(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::extract::ws::Utf8Bytes;
    use std::time::Duration;

    fn view(state: &str, upvotes: Option<&str>) -> Published {
        Published {
            state: Utf8Bytes::from(state.to_owned()),
            upvotes: upvotes.map(|u| Utf8Bytes::from(u.to_owned())),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn counts_reach_the_turns_one_slot_apart_and_a_state_reaches_all_at_once() {
        let (tx, rx) = watch::channel(view("s1", None));
        let spread = Spread::start(rx);
        let mut turns: Vec<_> = (0..TURNS).map(|_| spread.subscribe()).collect();
        for turn in &mut turns {
            turn.borrow_and_update();
        }
        let start = Instant::now();
        tx.send_replace(view("s1", Some("u1")));
        let mut heard = vec![];
        for turn in &mut turns {
            turn.changed().await.unwrap();
            heard.push(start.elapsed());
            assert_eq!(*turn.borrow_and_update(), view("s1", Some("u1")));
        }
        let slot = UPVOTES_TICK / TURNS as u32;
        for (i, at) in heard.iter().enumerate() {
            assert_eq!(*at, slot * i as u32, "turn {i}");
        }

        // Counts again, then a new state before the second turn's slot: the state
        // goes to every turn at once and no older counts follow it.
        tx.send_replace(view("s1", Some("u2")));
        turns[0].changed().await.unwrap();
        tx.send_replace(view("s2", None));
        tokio::time::sleep(Duration::from_millis(1)).await;
        for turn in &mut turns {
            assert_eq!(*turn.borrow_and_update(), view("s2", None));
        }
        tokio::time::sleep(UPVOTES_TICK * 2).await;
        for turn in &mut turns {
            assert!(!turn.has_changed().unwrap(), "nothing after the state");
        }

        // The turns close after the source's last value.
        tx.send_replace(view("s3", None));
        drop(tx);
        for turn in &mut turns {
            turn.changed().await.unwrap();
            assert_eq!(turn.borrow_and_update().state.as_str(), "s3");
            assert!(turn.changed().await.is_err());
        }
    }

    #[tokio::test(start_paused = true)]
    async fn counts_that_move_during_a_round_reach_the_early_turns_in_another() {
        let (tx, rx) = watch::channel(view("s", None));
        let spread = Spread::start(rx);
        let mut turns: Vec<_> = (0..TURNS).map(|_| spread.subscribe()).collect();
        tx.send_replace(view("s", Some("u1")));
        tokio::time::sleep(UPVOTES_TICK / 2).await;
        tx.send_replace(view("s", Some("u2")));
        tokio::time::sleep(UPVOTES_TICK * 3).await;
        for (i, turn) in turns.iter_mut().enumerate() {
            assert_eq!(*turn.borrow_and_update(), view("s", Some("u2")), "turn {i}");
        }
    }
}
