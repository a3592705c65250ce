//! When phones hear new counts of their listed arguments. At most once per
//! [`UPVOTES_TICK`]; but while the room votes in a rush (a thousand votes a second or
//! more: a large room the moment a vote opens) the counts wait until the rush is over,
//! and at most [`COUNTS_HOLD`] after they first moved. Counts reach every phone's
//! connection (19,000 wake-ups and writes a second in the largest room), and in a rush
//! that time is the votes' (docs/PERFORMANCE.md, "Upvotes during a vote burst").
//!
//! [`UPVOTES_TICK`]: super::UPVOTES_TICK

use std::time::Duration;

use tokio::time::Instant;

/// Votes a second from which the room votes in a rush.
pub const RUSH_VOTES_PER_SEC: f64 = 1000.0;

/// How long counts that moved wait for a rush to end, at most.
pub const COUNTS_HOLD: Duration = Duration::from_secs(5);

/// Votes are counted per window of this length.
const WINDOW: Duration = Duration::from_secs(1);

/// The shortest stretch a rate is taken over, so a few votes in the same instant are
/// not a rush.
const SHORTEST: Duration = Duration::from_millis(50);

/// Follows the rate of stored votes and when counts moved; says when phones hear them.
#[derive(Debug)]
pub(super) struct Pace {
    /// Windows of [`WINDOW`] are counted from here.
    origin: Instant,
    /// The window `current` counts in.
    window: u32,
    current: u64,
    /// The votes of the window before `window`.
    previous: u64,
    /// When counts first moved since phones last heard them.
    moved_since: Option<Instant>,
}

impl Pace {
    pub(super) fn new(now: Instant) -> Pace {
        Pace {
            origin: now,
            window: 0,
            current: 0,
            previous: 0,
            moved_since: None,
        }
    }

    /// `n` votes were stored.
    pub(super) fn voted(&mut self, n: u64, now: Instant) {
        self.roll(now);
        self.current += n;
    }

    /// Counts phones see moved.
    pub(super) fn moved(&mut self, now: Instant) {
        self.moved_since.get_or_insert(now);
    }

    /// Whether phones hear the counts now: they moved, and the room is not in a rush,
    /// or they have waited [`COUNTS_HOLD`].
    pub(super) fn due(&mut self, now: Instant) -> bool {
        let Some(since) = self.moved_since else {
            return false;
        };
        !self.rushing(now) || now.duration_since(since) >= COUNTS_HOLD
    }

    /// Phones were sent the counts.
    pub(super) fn heard(&mut self) {
        self.moved_since = None;
    }

    /// Whether the votes of the last second, or those of this window so far, come at
    /// [`RUSH_VOTES_PER_SEC`] or more.
    fn rushing(&mut self, now: Instant) -> bool {
        self.roll(now);
        let into = now.duration_since(self.origin) - WINDOW * self.window;
        let part = into.as_secs_f64() / WINDOW.as_secs_f64();
        let last_second = self.previous as f64 * (1.0 - part) + self.current as f64;
        let so_far = self.current as f64 / into.max(SHORTEST).as_secs_f64();
        last_second.max(so_far) >= RUSH_VOTES_PER_SEC
    }

    fn roll(&mut self, now: Instant) {
        let window = (now.duration_since(self.origin).as_millis() / WINDOW.as_millis()) as u32;
        if window == self.window {
            return;
        }
        self.previous = if window == self.window + 1 {
            self.current
        } else {
            0
        };
        self.current = 0;
        self.window = window;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn counts_go_out_when_they_moved_in_a_room_that_votes_calmly() {
        let start = Instant::now();
        let mut pace = Pace::new(start);
        assert!(!pace.due(start), "nothing moved");
        // A council of 40: 40 votes in two seconds.
        for i in 0..40 {
            pace.voted(1, start + ms(50 * i));
        }
        pace.moved(start + ms(500));
        assert!(pace.due(start + ms(1000)));
        pace.heard();
        assert!(!pace.due(start + ms(2000)), "nothing moved since");
    }

    #[test]
    fn in_a_rush_counts_wait_until_it_ends_or_for_the_hold() {
        let start = Instant::now();
        let mut pace = Pace::new(start);
        // 10,000 votes a second: 500 in each 50 ms, for two seconds.
        pace.voted(500, start);
        pace.moved(start + ms(20));
        pace.voted(500, start + ms(50));
        assert!(!pace.due(start + ms(60)), "the rush has just started");
        for i in 2..40 {
            pace.voted(500, start + ms(50 * i));
        }
        assert!(!pace.due(start + ms(1990)), "the rush goes on");
        // The rush ended at 2 s; the window after it has no votes.
        assert!(!pace.due(start + ms(2500)), "its last second was a rush");
        assert!(pace.due(start + ms(3100)), "a calm second after it");

        // Votes that never stop: the counts wait the hold, and no longer.
        let mut pace = Pace::new(start);
        pace.moved(start + ms(100));
        for i in 0..200 {
            let now = start + ms(50 * i);
            pace.voted(100, now);
            let waited = now.saturating_duration_since(start + ms(100));
            assert_eq!(pace.due(now), waited >= COUNTS_HOLD, "at {now:?}");
        }
    }

    #[test]
    fn the_first_votes_of_a_rush_are_a_rush_and_a_few_at_once_are_not() {
        let start = Instant::now();
        let mut pace = Pace::new(start);
        // Minutes of quiet, then 60 votes within 50 ms: 1,200 a second.
        let then = start + Duration::from_secs(300);
        pace.voted(60, then);
        pace.moved(then);
        assert!(!pace.due(then + ms(50)));

        // Five votes in the same instant: no rush.
        let mut pace = Pace::new(start);
        pace.voted(5, then);
        pace.moved(then);
        assert!(pace.due(then));
    }
}
