//! When phones hear new counts of their listed arguments. At most once per
//! [`UPVOTES_TICK`], and [`COUNTS_SETTLE`] after they first moved, so a vote rush that
//! starts with them is known before any goes out; while the room votes in a rush (a
//! thousand votes a second or more: a large room the moment a vote opens) the counts
//! wait until the rush is over, and at most [`COUNTS_HOLD`] after they first moved.
//! Counts reach every phone's connection (19,000 wake-ups and writes a second in the
//! largest room), and in a rush that time is the votes' (docs/PERFORMANCE.md, "Upvotes
//! during a vote burst").
//!
//! [`UPVOTES_TICK`]: super::UPVOTES_TICK

use std::time::Duration;

use tokio::time::Instant;

use super::actor::UPVOTES_TICK;

/// Votes a second from which the room votes in a rush.
pub const RUSH_VOTES_PER_SEC: f64 = 1000.0;

/// How long counts that moved wait for a rush to end, at most.
pub const COUNTS_HOLD: Duration = Duration::from_secs(5);

/// How long counts that moved wait before phones may hear them, so that the rate of the
/// votes stored meanwhile says whether a rush began with them.
pub const COUNTS_SETTLE: Duration = Duration::from_millis(200);

/// In a rush, how often the actor asks again whether it is over.
const RECHECK: Duration = Duration::from_millis(100);

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
    /// When phones last heard counts.
    heard_at: Option<Instant>,
    /// When to ask [`Pace::due`] next, while counts wait.
    ask_at: Option<Instant>,
}

impl Pace {
    pub(super) fn new(now: Instant) -> Pace {
        Pace {
            origin: now,
            window: 0,
            current: 0,
            previous: 0,
            moved_since: None,
            heard_at: None,
            ask_at: None,
        }
    }

    /// `n` votes were stored.
    pub(super) fn voted(&mut self, n: u64, now: Instant) {
        self.roll(now);
        self.current += n;
    }

    /// Counts phones see moved.
    pub(super) fn moved(&mut self, now: Instant) {
        if self.moved_since.is_none() {
            self.moved_since = Some(now);
            let settled = now + COUNTS_SETTLE;
            self.ask_at = Some(match self.heard_at {
                Some(heard) => settled.max(heard + UPVOTES_TICK),
                None => settled,
            });
        }
    }

    /// When to ask [`Pace::due`]: counts moved and wait; `None` when nothing waits.
    pub(super) fn ask_at(&self) -> Option<Instant> {
        self.ask_at
    }

    /// Whether phones hear the counts now: they moved, settled, a tick passed since
    /// phones last heard counts, and the room is not in a rush, or they have waited
    /// [`COUNTS_HOLD`]. If not, [`Pace::ask_at`] says when to ask again.
    pub(super) fn due(&mut self, now: Instant) -> bool {
        let (Some(since), Some(ask_at)) = (self.moved_since, self.ask_at) else {
            return false;
        };
        if now < ask_at {
            return false;
        }
        let held = since + COUNTS_HOLD;
        if now >= held || !self.rushing(now) {
            return true;
        }
        self.ask_at = Some((now + RECHECK).min(held));
        false
    }

    /// Phones were sent the counts.
    pub(super) fn heard(&mut self, now: Instant) {
        self.moved_since = None;
        self.ask_at = None;
        self.heard_at = Some(now);
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
    fn counts_go_out_when_they_moved_and_settled_in_a_room_that_votes_calmly() {
        let start = Instant::now();
        let mut pace = Pace::new(start);
        assert!(!pace.due(start), "nothing moved");
        assert_eq!(pace.ask_at(), None);
        // A council of 40: 40 votes in two seconds.
        for i in 0..40 {
            pace.voted(1, start + ms(50 * i));
        }
        pace.moved(start + ms(500));
        assert_eq!(pace.ask_at(), Some(start + ms(500) + COUNTS_SETTLE));
        assert!(!pace.due(start + ms(600)), "not settled yet");
        assert!(pace.due(start + ms(700)));
        pace.heard(start + ms(700));
        assert!(!pace.due(start + ms(2000)), "nothing moved since");
        assert_eq!(pace.ask_at(), None);

        // Counts that move soon after are heard a tick after the last ones.
        pace.moved(start + ms(800));
        assert_eq!(pace.ask_at(), Some(start + ms(700) + UPVOTES_TICK));
        assert!(!pace.due(start + ms(1600)));
        assert!(pace.due(start + ms(1700)));
    }

    #[test]
    fn in_a_rush_counts_wait_until_it_ends_or_for_the_hold() {
        let start = Instant::now();
        let mut pace = Pace::new(start);
        // 10,000 votes a second: 500 in each 50 ms, for two seconds.
        pace.voted(500, start);
        pace.moved(start + ms(20));
        pace.voted(500, start + ms(50));
        assert!(!pace.due(start + ms(60)), "not settled");
        for i in 2..40 {
            let now = start + ms(50 * i);
            pace.voted(500, now);
            assert!(!pace.due(now), "the rush goes on at {i}");
            let ask = pace.ask_at().expect("counts wait");
            assert!(ask > now && ask <= now + COUNTS_SETTLE, "asked again soon");
        }
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
    fn counts_that_move_as_a_rush_begins_wait_for_it_and_a_few_votes_are_no_rush() {
        let start = Instant::now();
        let mut pace = Pace::new(start);
        // Minutes of quiet; then upvotes and, in the same instant, a vote opening in a
        // large room: 50 votes every 5 ms.
        let then = start + Duration::from_secs(300);
        pace.moved(then);
        for i in 0..=40 {
            pace.voted(50, then + ms(5 * i));
        }
        assert!(!pace.due(then + ms(200)), "settled, and the rush is known");

        // Five votes in the same instant: no rush.
        let mut pace = Pace::new(start);
        pace.voted(5, then);
        pace.moved(then);
        assert!(pace.due(then + COUNTS_SETTLE));
    }
}
