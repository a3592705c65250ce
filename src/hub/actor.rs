//! One actor per session: the task that owns its [`Session`], decides commands on it,
//! hands the events to the session's [`Log`], and publishes what each role sees.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::Utf8Bytes;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::{Instant, MissedTickBehavior};
use uuid::Uuid;

use super::handle::{Clock, JoinInfo, NotAdmitted, Outbox, Published, Request, SessionHandle};
use super::opinion::{Finished, MapState};
use super::pace::Pace;
use super::ports::{Log, SessionRecord, WriteFailed};
use crate::core::deck::Deck;
use crate::core::edits::WordingChange;
use crate::core::session::{Command, Event, ParticipantId, Reach, Session};
use crate::wire::protocol::{Lang, Role, ServerMsg, StateView, Storage};
use crate::wire::view;

/// How often a session publishes what changed. 50 ms keeps the projector's bars
/// fluid (20 frames a second) while a burst of thousands of votes per second costs
/// each screen and host at most 20 messages a second.
pub const SNAPSHOT_TICK: Duration = Duration::from_millis(50);

/// How often phones hear the upvotes of the listed arguments, at most. Each phone holds
/// the list and gets only the counts (an `upvotes` message of a few hundred bytes), so
/// a room upvoting hundreds of times a second costs a phone on slow 3G about one small
/// message a second, while the projector follows on [`SNAPSHOT_TICK`].
pub const UPVOTES_TICK: Duration = Duration::from_secs(1);

/// Commands queued per session before senders wait: enough to absorb a burst of a
/// few thousand votes between two actor wake-ups, small enough to push back on a flood.
pub const COMMAND_QUEUE: usize = 8192;

/// After a failed write, how long before the session itself tries to write again (a
/// countdown that ended); phones retry their votes on their own schedule.
const STORAGE_RETRY: Duration = Duration::from_secs(1);

/// Starts the actor of the session of `record`, going on from `session`, whose events
/// go to `log`; returns the handle its connections use.
pub(super) fn spawn(
    record: SessionRecord,
    session: Session,
    log: Arc<dyn Log>,
    skipped: u64,
) -> SessionHandle {
    let clock = Clock::new();
    let now = clock.now_ms();
    let view = |role| Published::state(serialize(&view::state(&session, role, now)));
    let (participant_tx, participant_rx) = watch::channel(view(Role::Participant));
    let (screen_tx, screen_rx) = watch::channel(view(Role::Screen));
    let host = host_view(&session, now, false, skipped);
    let (host_tx, host_rx) = watch::channel(Published::state(serialize(&host)));
    let mut phones = view::PhoneArguments::default();
    phones.sent_state(&session);
    let (tx, rx) = mpsc::channel(COMMAND_QUEUE);
    let code = record.code.clone();
    let views = [participant_rx, screen_rx, host_rx];
    let handle = SessionHandle::new(record, session.deck().clone(), clock, tx, views);
    let (outcome_tx, outcome_rx) = mpsc::unbounded_channel();
    let (map, maps) = MapState::new();
    let actor = Actor {
        code,
        stored: session.clone(),
        live: session,
        epoch: 0,
        in_flight: VecDeque::new(),
        outcomes: outcome_tx,
        storage_failing: false,
        skipped,
        retry_at: Instant::now(),
        log,
        publishers: Publishers {
            participant: participant_tx,
            screen: screen_tx,
            host: host_tx,
        },
        clock,
        stage_dirty: false,
        counts_dirty: false,
        arguments_dirty: false,
        upvotes_dirty: false,
        phones,
        pace: Pace::new(Instant::now()),
        map,
    };
    tokio::spawn(actor.run(rx, outcome_rx, maps));
    handle
}

/// The host's view: the state, whether the store writes, and how many stored events
/// were skipped when the session was loaded.
fn host_view(session: &Session, now: u64, storage_failing: bool, skipped: u64) -> StateView {
    let mut host = view::state(session, Role::Host, now);
    host.storage = Some(if storage_failing {
        Storage::Failing
    } else {
        Storage::Ok
    });
    host.skipped_events = (skipped > 0).then_some(skipped);
    host
}

/// The serialized views a session publishes, one per role.
struct Publishers {
    participant: watch::Sender<Published>,
    screen: watch::Sender<Published>,
    host: watch::Sender<Published>,
}

/// The task that owns one session.
///
/// It keeps the session twice. `live` is what commands are decided on: every event
/// taken, stored or on its way to the store. `stored` has only the events the store has
/// committed, and it is all anyone sees: views, reports, the answers to a phone. So
/// nothing is shown or acknowledged before it is on disk. When a write fails, `live`
/// starts again from `stored` in a new epoch, and the store refuses the rest of the
/// old epoch (decided on top of the lost events).
struct Actor {
    code: String,
    live: Session,
    stored: Session,
    epoch: u64,
    /// Appends sent to the store, oldest first; outcomes return in the same order.
    in_flight: VecDeque<InFlight>,
    outcomes: mpsc::UnboundedSender<Outcome>,
    /// The last write of this session failed.
    storage_failing: bool,
    /// Stored events that could not be applied when the session was loaded.
    skipped: u64,
    /// No countdown ends before this (see [`STORAGE_RETRY`]).
    retry_at: Instant,
    log: Arc<dyn Log>,
    publishers: Publishers,
    clock: Clock,
    /// Something every client sees changed since the last publish.
    stage_dirty: bool,
    /// Only counts (seen by host and screen) changed since the last publish.
    counts_dirty: bool,
    /// Arguments changed: phones need a new state if their list did.
    arguments_dirty: bool,
    /// Upvotes changed since phones last heard them.
    upvotes_dirty: bool,
    /// What phones were last sent of the listed arguments.
    phones: view::PhoneArguments,
    /// When phones hear counts that moved.
    pace: Pace,
    /// The opinion map, computed off this task.
    map: MapState,
}

/// Events on their way to the store, and who hears once they are stored.
struct InFlight {
    epoch: u64,
    events: Vec<Event>,
    replies: Vec<Reply>,
}

/// The store's word on the oldest [`InFlight`].
type Outcome = Result<(), WriteFailed>;

/// An answer that waits for the store.
enum Reply {
    /// An `ack` or `ok` to a connection; on failure an error with the message's id.
    Done {
        outbox: Outbox,
        msg: ServerMsg,
        id: u64,
        lang: Lang,
    },
    /// A phone's admission.
    Join {
        participant: ParticipantId,
        reply: oneshot::Sender<Result<JoinInfo, NotAdmitted>>,
    },
}

impl Actor {
    async fn run(
        mut self,
        mut rx: mpsc::Receiver<Request>,
        mut outcomes: mpsc::UnboundedReceiver<Outcome>,
        mut maps: mpsc::UnboundedReceiver<Finished>,
    ) {
        let mut tick = tokio::time::interval(SNAPSHOT_TICK);
        tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut stopping: Vec<oneshot::Sender<()>> = vec![];
        loop {
            if !stopping.is_empty() && self.in_flight.is_empty() {
                break;
            }
            // A countdown runs once it is stored, like everything else the room sees, and
            // ends once: not again while its end is on its way to the store, and after a
            // failed write only once a second, so a full disk is not hammered.
            let timer_at = self
                .stored
                .timer()
                .filter(|_| self.live.timer().is_some())
                .map(|t| self.clock.instant_at(t.ends_at_ms).max(self.retry_at));
            let map_at = self.map.due(&self.stored);
            tokio::select! {
                // Outcomes first: they free answers and memory that requests pile up.
                biased;
                Some(outcome) = outcomes.recv() => self.on_outcome(outcome),
                request = rx.recv(), if stopping.is_empty() => match request {
                    Some(Request::Stop { done }) => {
                        // Requests queued behind the stop are dropped with the channel;
                        // their senders hear that the session stopped.
                        rx.close();
                        stopping.push(done);
                    }
                    Some(request) => self.handle(request),
                    None => break,
                },
                _ = tick.tick(), if self.stage_dirty || self.counts_dirty => self.publish(),
                // Counts that moved go out when `pace` says: settled, a tick after the
                // last ones, and not in a vote rush.
                _ = sleep_until_some(self.pace.ask_at()), if self.upvotes_dirty => {
                    if self.pace.due(Instant::now()) {
                        self.publish_upvotes();
                    }
                }
                Some(finished) = maps.recv() => {
                    self.map.finish(finished);
                    self.stage_dirty = true;
                    self.publish();
                }
                _ = sleep_until_some(map_at) => self.map.start(&self.stored),
                _ = sleep_until_some(timer_at) => {
                    let now_ms = self.clock.now_ms();
                    self.run_command(Command::TimerExpired { now_ms }, None, Lang::Nl, None);
                }
            }
        }
        if self.stage_dirty || self.counts_dirty {
            self.publish();
        }
        if self.upvotes_dirty {
            self.publish_upvotes();
        }
        for done in stopping {
            // The stopper may have given up waiting.
            done.send(()).ok();
        }
        tracing::info!(code = %self.code, "session actor stopped");
    }

    fn handle(&mut self, request: Request) {
        match request {
            Request::Join {
                participant,
                card,
                reply,
            } => {
                let fresh = Uuid::new_v4();
                let admitted = match card.filter(|_| self.live.cards().required()) {
                    Some(typed) => self.live.card_participant(&typed, participant, fresh).map(
                        |(participant, card)| (participant, Command::UseCard { card, participant }),
                    ),
                    None => {
                        let participant = participant.unwrap_or(fresh);
                        Ok((participant, Command::Join { participant }))
                    }
                };
                match admitted.and_then(|(p, command)| Ok((p, self.live.apply(command)?))) {
                    Ok((participant, events)) => {
                        self.submit(events, Reply::Join { participant, reply })
                    }
                    Err(rejection) => {
                        // The connection may have gone while waiting; then nobody needs it.
                        reply.send(Err(NotAdmitted::Refused(rejection))).ok();
                    }
                }
            }
            Request::Command {
                command,
                id,
                lang,
                outbox,
            } => self.run_command(command, id, lang, Some(outbox)),
            Request::Knows { participant, reply } => {
                // The connection may have gone while waiting; then nobody needs it.
                reply.send(self.stored.has_participant(&participant)).ok();
            }
            Request::Report { reply } => {
                let mut report = crate::report::build(&self.stored, &self.code);
                report.skipped_events = self.skipped;
                super::opinion::send_report(report, &self.stored, reply);
            }
            Request::ReplaceDeck { deck, reply } => {
                // The one asking may have given up waiting; the answer is then lost.
                reply.send(self.replace_deck(deck)).ok();
            }
            Request::Stop { .. } => unreachable!("handled in run"),
        }
    }

    /// Runs on an edited deck of the same structure, unless it rewords a statement
    /// that has votes: checked against `live`, which holds every vote taken, so no
    /// vote can come between the check and the swap.
    fn replace_deck(&mut self, deck: Arc<Deck>) -> Result<(), WordingChange> {
        if let Some(change) = crate::core::edits::wording_change(&self.live, &deck) {
            return Err(change);
        }
        self.live.replace_deck(deck.clone());
        self.stored.replace_deck(deck);
        self.stage_dirty = true;
        self.publish();
        Ok(())
    }

    fn run_command(
        &mut self,
        command: Command,
        id: Option<u64>,
        lang: Lang,
        outbox: Option<Outbox>,
    ) {
        let answer = match (&command, id) {
            (
                Command::Vote {
                    slide,
                    round,
                    option,
                    ..
                },
                Some(id),
            ) => Some(ServerMsg::Ack {
                id,
                slide: *slide,
                round: *round,
                option: *option,
            }),
            (_, Some(id)) => Some(ServerMsg::Ok { id }),
            (_, None) => None,
        };
        if let Command::MapGroup { participant } = command {
            // A read of the map this task keeps; the session has nothing to decide.
            let (version, group) = self.map.group_of(&self.stored, &participant);
            if let Some(outbox) = outbox {
                // A closed outbox means the connection is gone; nobody to tell.
                outbox.send(ServerMsg::MapGroup { id, version, group }).ok();
            }
            return;
        }
        let argue = matches!(command, Command::Argue { .. } | Command::Ask { .. });
        match self.live.apply(command) {
            Ok(events) => {
                // An argument's (or a question's) answer names the number it was given.
                let answer = match (argue, answer) {
                    (true, Some(ServerMsg::Ok { id })) => events.iter().find_map(|e| match e {
                        Event::ArgumentAdded {
                            argument,
                            slide,
                            option,
                            ..
                        } => Some(ServerMsg::Argued {
                            id,
                            slide: *slide,
                            argument: *argument,
                            option: *option,
                        }),
                        Event::QuestionAsked { question, .. } => Some(ServerMsg::Asked {
                            id,
                            question: *question,
                        }),
                        _ => None,
                    }),
                    (_, answer) => answer,
                };
                let reply = match (outbox, answer, id) {
                    (Some(outbox), Some(msg), Some(id)) => Some(Reply::Done {
                        outbox,
                        msg,
                        id,
                        lang,
                    }),
                    _ => None,
                };
                match reply {
                    Some(reply) => self.submit(events, reply),
                    None if events.is_empty() => {}
                    None => self.send_to_store(events, vec![]),
                }
            }
            Err(rejection) => {
                if let Some(outbox) = outbox {
                    let msg = ServerMsg::error(rejection.code(), lang, id);
                    // A closed outbox means the connection is gone; nobody to tell.
                    outbox.send(msg).ok();
                }
            }
        }
    }

    /// Stores `events` and answers `reply` once they are stored. With no events the
    /// answer waits for the writes of this epoch still on their way: a repeated vote
    /// whose first copy is not yet stored is acknowledged only after that copy.
    fn submit(&mut self, events: Vec<Event>, reply: Reply) {
        if !events.is_empty() {
            return self.send_to_store(events, vec![reply]);
        }
        match self.in_flight.back_mut() {
            Some(last) if last.epoch == self.epoch => last.replies.push(reply),
            // Nothing of this epoch is on its way, so `live` is what is stored.
            _ => self.answer(reply, Ok(())),
        }
    }

    fn send_to_store(&mut self, events: Vec<Event>, replies: Vec<Reply>) {
        let outcomes = self.outcomes.clone();
        let sent = self.log.append(
            &self.code,
            self.epoch,
            events.clone(),
            Box::new(move |outcome| {
                // The actor is gone only when the session stopped; then nobody waits.
                outcomes.send(outcome).ok();
            }),
        );
        let in_flight = InFlight {
            epoch: self.epoch,
            events,
            replies,
        };
        match sent {
            Ok(()) => self.in_flight.push_back(in_flight),
            // The writer thread is gone: nothing will be stored again.
            Err(e) => self.fail(
                in_flight,
                WriteFailed {
                    reason: format!("{e:#}"),
                },
            ),
        }
    }

    fn on_outcome(&mut self, outcome: Outcome) {
        let Some(done) = self.in_flight.pop_front() else {
            tracing::error!(code = %self.code, "a store outcome for nothing in flight");
            return;
        };
        match outcome {
            Ok(()) => {
                let now = Instant::now();
                for event in &done.events {
                    if matches!(event, Event::Voted { .. }) {
                        self.map.votes_changed();
                    }
                    match event.reach() {
                        Reach::Stage => self.stage_dirty = true,
                        Reach::Counts => self.counts_dirty = true,
                        Reach::Arguments => self.arguments_dirty = true,
                        Reach::Upvote => {
                            self.upvotes_dirty = true;
                            self.pace.moved(now);
                        }
                    }
                    if let Event::Voted { .. } = event {
                        self.pace.voted(1, now);
                    }
                    self.stored
                        .replay(event)
                        .expect("an event decided on the live session fits the stored one");
                }
                if std::mem::take(&mut self.arguments_dirty) {
                    // The host sees every argument; phones and the screen the listed
                    // ones, which a pending argument does not change.
                    self.counts_dirty = true;
                    if self.phones.list_changed(&self.stored) {
                        self.stage_dirty = true;
                    }
                }
                if self.upvotes_dirty {
                    self.counts_dirty = true;
                }
                if self.storage_failing {
                    self.storage_failing = false;
                    self.stage_dirty = true;
                }
                // A slide or phase change (rare, from the host) goes out at once; votes
                // wait for the tick, which bounds messages per second in a burst.
                if self.stage_dirty {
                    self.publish();
                }
                for reply in done.replies {
                    self.answer(reply, Ok(()));
                }
            }
            Err(failed) => self.fail(done, failed),
        }
    }

    /// A write failed: its answers are refusals, and if it is the first failure of
    /// this epoch, `live` starts over from what is stored.
    fn fail(&mut self, done: InFlight, failed: WriteFailed) {
        if done.epoch == self.epoch {
            self.live = self.stored.clone();
            self.epoch += 1;
            self.retry_at = Instant::now() + STORAGE_RETRY;
        }
        if !self.storage_failing {
            tracing::error!(code = %self.code, "{failed}; changes are refused, the session goes on from what is stored");
            self.storage_failing = true;
            self.stage_dirty = true;
        }
        for reply in done.replies {
            self.answer(reply, Err(failed.clone()));
        }
    }

    fn answer(&self, reply: Reply, outcome: Result<(), WriteFailed>) {
        match (reply, outcome) {
            (Reply::Done { outbox, msg, .. }, Ok(())) => {
                // A phone that left before its ack resends the vote when it is back.
                outbox.send(msg).ok();
            }
            (
                Reply::Done {
                    outbox, id, lang, ..
                },
                Err(_),
            ) => {
                outbox
                    .send(ServerMsg::error("storage_unavailable", lang, Some(id)))
                    .ok();
            }
            (Reply::Join { participant, reply }, outcome) => {
                let info = outcome.map_err(NotAdmitted::Storage).map(|()| JoinInfo {
                    participant,
                    group: self.stored.group_of(&participant).map(str::to_owned),
                    votes: view::own_votes(&self.stored, &participant),
                    arguments: view::own_arguments(&self.stored, &participant),
                    upvoted: self.stored.arguments().upvoted_by(&participant),
                    holds_card: self.stored.cards().card_of(&participant).is_some(),
                    questions: view::own_questions(&self.stored, &participant),
                    upvoted_questions: self.stored.questions().upvoted_by(&participant),
                });
                // The connection may have gone while waiting; then nobody needs it.
                reply.send(info).ok();
            }
        }
    }

    fn publish(&mut self) {
        let now = self.clock.now_ms();
        if self.stage_dirty {
            let mut phones = view::state(&self.stored, Role::Participant, now);
            phones.opinion_map = self.map.view(&self.stored, Role::Participant);
            let bytes = serialize(&phones);
            self.phones.sent_state(&self.stored);
            self.publishers
                .participant
                .send_if_modified(|old| old.set_state(bytes));
        }
        // `send_replace` stores the value even with no receiver, so nothing is lost
        // while no screen is connected; the returned old view is not needed.
        let mut screen = view::state(&self.stored, Role::Screen, now);
        screen.opinion_map = self.map.view(&self.stored, Role::Screen);
        self.publishers
            .screen
            .send_replace(Published::state(serialize(&screen)));
        let mut host = host_view(&self.stored, now, self.storage_failing, self.skipped);
        host.opinion_map = self.map.view(&self.stored, Role::Host);
        self.publishers
            .host
            .send_replace(Published::state(serialize(&host)));
        self.stage_dirty = false;
        self.counts_dirty = false;
    }

    /// Tells phones the upvotes of their listed arguments: only the counts, or a whole
    /// state where an upvote changed which arguments are listed.
    fn publish_upvotes(&mut self) {
        self.upvotes_dirty = false;
        self.pace.heard(Instant::now());
        if self.phones.list_changed(&self.stored) {
            self.stage_dirty = true;
            self.publish();
        } else if let Some(upvotes) = self.phones.upvotes(&self.stored) {
            let bytes =
                Utf8Bytes::from(serde_json::to_string(&upvotes).expect("upvotes serialize"));
            self.publishers
                .participant
                .send_if_modified(|old| old.set_upvotes(bytes));
        }
    }
}

async fn sleep_until_some(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

fn serialize(view: &StateView) -> Utf8Bytes {
    Utf8Bytes::from(serde_json::to_string(view).expect("a state view serializes"))
}
