//! One WebSocket connection: the `hello` handshake, then one loop that forwards
//! commands to the session's actor and views, acks and errors back to the client.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, Result};
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket};
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::core::session::{Command, ParticipantId, Rejection};
use crate::hub::seats::Seat;
use crate::hub::{
    JoinInfo, NotAdmitted, Notice, Outbox, Published, Request, SessionHandle, Stopped,
};
use crate::web::answers::Answers;
use crate::web::limits::{JoinLimiter, Limits, MessageGuard, Verdict};
use crate::wire::protocol::{ClientMsg, Lang, Role, ServerMsg, WireLimits};

/// The largest message a client may send. The biggest real one (a `hello` with a key
/// and id) is under 200 bytes; 16 KiB leaves room for future fields and nothing more.
pub const MAX_MESSAGE_BYTES: usize = 16 * 1024;

/// Read buffer per WebSocket. tungstenite's default of 128 KiB costs ~90 KB of memory
/// per phone; client messages are tiny, so 4 KiB is plenty.
pub const WS_READ_BUFFER: usize = 4 * 1024;

/// Unsent bytes a slow client may pile up before its connection fails: a few views.
pub const WS_MAX_WRITE_BUFFER: usize = 256 * 1024;

/// How long a new connection may take to say `hello` before it is closed.
pub const HELLO_TIMEOUT: Duration = Duration::from_secs(10);

/// Close code for a policy violation (RFC 6455): wrong key, no hello, abuse.
pub const CLOSE_POLICY: u16 = 1008;

/// Close code for "going away" (RFC 6455): the server is stopping. A restarted server
/// resumes the session, so clients reconnect.
pub const CLOSE_GOING_AWAY: u16 = 1001;

/// Close code for "try again later" (RFC 6455): the store could not write the phone's
/// joining, its address made too many new participants, or the session cannot take it
/// now (its owner in a cluster is changing); it reconnects after a pause.
pub const CLOSE_TRY_AGAIN_LATER: u16 = 1013;

/// Close code for a client that sent nothing, not even a pong, for the idle timeout:
/// a phone that slept or lost the Wi-Fi. It may reconnect at once.
pub const CLOSE_IDLE: u16 = 4000;

/// Close code: the session was closed (or deleted) from the console; it takes no more
/// votes, so a page stops reconnecting and says so.
pub const CLOSE_SESSION_CLOSED: u16 = 4001;

/// Close code: the deck's texts were edited; the page reconnects at once for the new
/// `welcome` (titles, outline) and keeps its id and votes.
pub const CLOSE_DECK_EDITED: u16 = 4002;

/// Close code: the session has voting cards and the phone presented none, or one the
/// session did not issue (the reason says which); the page asks for a card.
pub const CLOSE_CARD: u16 = 4003;

/// Close code: the phone's voting card was used on another phone, which now holds its
/// vote; the page says so and does not reconnect by itself.
pub const CLOSE_CARD_ELSEWHERE: u16 = 4004;

/// Keys the browser sent as cookies with the upgrade request (set by a host or screen
/// link), used when `hello` asks for a role without a key.
#[derive(Debug, Clone, Default)]
pub struct CookieKeys {
    /// The host key cookie of this session, if any.
    pub host: Option<String>,
    /// The screen key cookie of this session, if any.
    pub screen: Option<String>,
}

/// What the HTTP layer hands a connection.
#[derive(Debug, Clone)]
pub struct Context {
    /// The participant URL, for `welcome`.
    pub join_url: String,
    /// The screen URL with its key, for the host's `welcome`.
    pub screen_url: String,
    /// Rate limit, idle timeout.
    pub limits: Arc<Limits>,
    /// Keys from cookies.
    pub cookies: CookieKeys,
    /// The client's address, for the limit on new participants.
    pub peer: IpAddr,
    /// The limit on new participants per address.
    pub joins: Arc<JoinLimiter>,
}

/// Who is on the other end, once `hello` is done.
struct Peer {
    role: Role,
    lang: Lang,
    participant: Option<ParticipantId>,
    /// For a card's participant: its hold on the card, lost to a later phone.
    seat: Option<Seat>,
}

/// Why a connection was closed by the server.
enum Ending {
    /// The client closed, or the socket failed.
    Gone,
    /// Close with this code and reason.
    Close(u16, &'static str),
}

/// Close code for a message larger than [`MAX_MESSAGE_BYTES`].
pub const CLOSE_TOO_BIG: u16 = 1009;

/// Close code for a text frame that is not UTF-8 (RFC 6455 §8.1).
pub const CLOSE_INVALID_DATA: u16 = 1007;

/// Close code for a broken WebSocket frame.
pub const CLOSE_PROTOCOL: u16 = 1002;

/// How long the server waits for the client's answer to its close frame. Dropping the
/// socket at once would reset the connection and could destroy the close frame (and
/// its code) before the client reads it.
const CLOSE_HANDSHAKE: Duration = Duration::from_secs(2);

/// Runs a connection to its end; logs why it ended if that was an error.
pub async fn serve(mut socket: WebSocket, handle: SessionHandle, context: Context) {
    match run(&mut socket, &handle, context).await {
        Ok(Ending::Gone) => {}
        Ok(Ending::Close(code, reason)) => close(&mut socket, code, reason).await,
        Err(e) if stopped(&e) => {
            // A message met the session's end before the connection saw it: said the
            // same way as when the views close.
            let Ending::Close(code, reason) = end_of_session(&handle) else {
                unreachable!("a session's end is said with a close frame")
            };
            close(&mut socket, code, reason).await;
        }
        Err(e) => {
            tracing::debug!(code = %handle.code(), "connection ended: {e:#}");
            if let Some((code, reason)) = close_code_for(&e) {
                close(&mut socket, code, reason).await;
            }
        }
    }
}

/// A connection to a closed session: after its `hello`, the `ended` message, then close
/// 4001 "session closed", so a page reloaded after the close can show the ending.
pub async fn serve_ended(mut socket: WebSocket, ended: Arc<str>) {
    match read_hello(&mut socket).await {
        Ok(Ok(_)) => {}
        Ok(Err(Ending::Close(code, reason))) => return close(&mut socket, code, reason).await,
        Ok(Err(Ending::Gone)) | Err(_) => return,
    }
    if socket
        .send(Message::Text(Utf8Bytes::from(&*ended)))
        .await
        .is_ok()
    {
        close(&mut socket, CLOSE_SESSION_CLOSED, "session closed").await;
    }
}

/// Whether `error` is a request that came after the session stopped taking them.
fn stopped(error: &anyhow::Error) -> bool {
    error.chain().any(|e| e.is::<Stopped>())
}

/// The close code that tells a client why its input ended the connection.
fn close_code_for(error: &anyhow::Error) -> Option<(u16, &'static str)> {
    use tokio_tungstenite::tungstenite::error::{CapacityError, Error as WsError};
    let ws = error
        .chain()
        .find_map(|e| e.downcast_ref::<axum::Error>())?;
    let inner = std::error::Error::source(ws)?;
    match inner.downcast_ref::<WsError>()? {
        WsError::Capacity(CapacityError::MessageTooLong { .. }) => {
            Some((CLOSE_TOO_BIG, "message too big"))
        }
        WsError::Capacity(_) => Some((CLOSE_TOO_BIG, "frame too big")),
        WsError::Utf8(_) => Some((CLOSE_INVALID_DATA, "text is not UTF-8")),
        WsError::Protocol(_) => Some((CLOSE_PROTOCOL, "protocol error")),
        _ => None,
    }
}

/// What a connection's phase ends in: `Err` for a failure, `Ok(Err(ending))` when the
/// connection ends here (the client was told why), `Ok(Ok(value))` to go on.
type Step<T> = Result<Result<T, Ending>>;

/// A connection's acks and errors: where the session sends them (made on the first
/// command, since a channel allocates a block of slots up front and most phones sit
/// idle most of the session), and the line they go out in.
#[derive(Default)]
struct Replies {
    channel: Option<(Outbox, mpsc::UnboundedReceiver<ServerMsg>)>,
    line: Answers,
}

impl Replies {
    /// Sends the answers whose turn it is.
    async fn flush(&mut self, socket: &mut WebSocket) -> Result<()> {
        while let Some(msg) = self.line.next() {
            send(socket, &msg).await?;
        }
        Ok(())
    }
}

async fn run(socket: &mut WebSocket, handle: &SessionHandle, context: Context) -> Result<Ending> {
    let mut peer = match handshake(socket, handle, &context).await? {
        Ok(peer) => peer,
        Err(ending) => return Ok(ending),
    };
    let mut seat = peer.seat.take();
    let limits = &context.limits;
    // Subscribed before the first view is read, so no change after it is missed.
    let mut view = handle.subscribe_connection(peer.role);
    let mut notices = handle.notices();
    notices.borrow_and_update();
    let mut sent = Published::default();
    let first = view.borrow_and_update().clone();
    send_view(socket, &mut sent, first).await?;
    let mut replies = Replies::default();
    let mut guard = MessageGuard::new(limits, Instant::now());
    let mut last_heard = Instant::now();
    let mut ping = tokio::time::interval(limits.ping_interval);
    ping.reset();
    // Set when a message met the session's end: nothing more is read, and the
    // connection waits for the views to close, after the answers to what it took.
    let mut stopping = false;
    loop {
        tokio::select! {
            incoming = socket.recv(), if !stopping => {
                last_heard = Instant::now();
                let answered = on_message(
                    incoming, last_heard, &mut guard, &peer, handle, &mut replies,
                );
                match answered.await {
                    Err(e) if stopped(&e) => stopping = true,
                    answered => if let Some(ending) = answered? {
                        return Ok(ending);
                    }
                }
                replies.flush(socket).await?;
            }
            changed = view.changed() => {
                if changed.is_err() {
                    return session_ended(socket, handle, &mut replies).await;
                }
                let now = view.borrow_and_update().clone();
                send_view(socket, &mut sent, now).await?;
            }
            Ok(()) = notices.changed() => {
                // A closing session is left to end its task first (above), so what
                // it took is answered before the close.
                if matches!(*notices.borrow_and_update(), Notice::DeckEdited(_)) {
                    return Ok(Ending::Close(CLOSE_DECK_EDITED, "deck edited"));
                }
            }
            Some(msg) = next_reply(&mut replies.channel) => {
                replies.line.answered(msg);
                replies.flush(socket).await?;
            }
            () = sleep_until_some(replies.line.overdue_at()) => {
                replies.line.give_up_overdue(Instant::now());
                replies.flush(socket).await?;
            }
            () = seat_taken(&mut seat) => {
                return Ok(Ending::Close(CLOSE_CARD_ELSEWHERE, "card used elsewhere"));
            }
            _ = ping.tick() => {
                if last_heard.elapsed() >= limits.idle_timeout {
                    return Ok(Ending::Close(CLOSE_IDLE, "idle"));
                }
                socket.send(Message::Ping(Default::default())).await?;
            }
        }
    }
}

/// Answers one message from the client within its rate (`incoming`, heard at
/// `heard`); `Some(ending)` when the connection ends with it.
async fn on_message(
    incoming: Option<Result<Message, axum::Error>>,
    heard: Instant,
    guard: &mut MessageGuard,
    peer: &Peer,
    handle: &SessionHandle,
    replies: &mut Replies,
) -> Result<Option<Ending>> {
    let text = match incoming {
        None | Some(Ok(Message::Close(_))) => return Ok(Some(Ending::Gone)),
        Some(Err(e)) => return Err(e).context("reading from the socket"),
        // Pings are answered by the socket itself; a pong is proof of life.
        Some(Ok(Message::Ping(_) | Message::Pong(_))) => return Ok(None),
        Some(Ok(Message::Text(text))) => Some(text),
        Some(Ok(Message::Binary(_))) => None,
    };
    match guard.check(heard) {
        Verdict::Take => {}
        Verdict::Drop => {
            let id = text.as_deref().and_then(message_id);
            replies.line.decided(error(peer.lang, "rate_limited", id));
            return Ok(None);
        }
        Verdict::Close => {
            return Ok(Some(Ending::Close(CLOSE_POLICY, "too many messages")));
        }
    }
    let Some(text) = text else {
        replies.line.decided(error(peer.lang, "bad_message", None));
        return Ok(None);
    };
    let (tx, _) = replies.channel.get_or_insert_with(mpsc::unbounded_channel);
    match on_text(&text, peer, handle, tx).await? {
        Ok(Some(id)) => replies.line.sent(id, peer.lang, heard),
        Ok(None) => {}
        Err(reply) => replies.line.decided(reply),
    }
    Ok(None)
}

/// The session's task ended (the server is stopping, or the session was closed) after
/// it answered everything it took: delivers those answers first, then says why.
async fn session_ended(
    socket: &mut WebSocket,
    handle: &SessionHandle,
    replies: &mut Replies,
) -> Result<Ending> {
    if let Some((_, rx)) = &mut replies.channel {
        while let Ok(msg) = rx.try_recv() {
            replies.line.answered(msg);
        }
    }
    // Up to the first message left without an answer: the client sends that again.
    replies.flush(socket).await?;
    Ok(end_of_session(handle))
}

/// How a connection ends when its session's task has ended: 4001 for a session the
/// console closed, 1001 "server stopping" otherwise.
fn end_of_session(handle: &SessionHandle) -> Ending {
    if handle.notice() == Notice::Closed {
        Ending::Close(CLOSE_SESSION_CLOSED, "session closed")
    } else {
        Ending::Close(CLOSE_GOING_AWAY, "server stopping")
    }
}

/// Sends what of a session's published view this connection has not sent yet: a new
/// `state`, then newer counts. Messages are told apart by identity, not content: the
/// session puts a new allocation in place only when what it says changed, and `sent`
/// holds the old one, so its address is not reused meanwhile.
async fn send_view(socket: &mut WebSocket, sent: &mut Published, now: Published) -> Result<()> {
    if !same(&sent.state, &now.state) {
        socket.send(Message::Text(now.state.clone())).await?;
    }
    if let Some(upvotes) = &now.upvotes {
        if !sent.upvotes.as_ref().is_some_and(|old| same(old, upvotes)) {
            socket.send(Message::Text(upvotes.clone())).await?;
        }
    }
    *sent = now;
    Ok(())
}

/// Whether two messages of a published view are one (see [`send_view`]).
fn same(a: &Utf8Bytes, b: &Utf8Bytes) -> bool {
    a.as_str().as_ptr() == b.as_str().as_ptr() && a.len() == b.len()
}

/// The next ack or error for this connection; never, while it has sent no command.
async fn next_reply(
    outbox: &mut Option<(Outbox, mpsc::UnboundedReceiver<ServerMsg>)>,
) -> Option<ServerMsg> {
    match outbox {
        Some((_, rx)) => rx.recv().await,
        None => std::future::pending().await,
    }
}

/// Resolves at `at`; never without one.
async fn sleep_until_some(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// Resolves when a later phone took this connection's card; never without a card.
async fn seat_taken(seat: &mut Option<Seat>) {
    match seat {
        Some(seat) => seat.taken().await,
        None => std::future::pending().await,
    }
}

/// The `id` a client gave a message (a vote's, or a host command's), read apart from
/// the message itself: every command may carry one, and a refusal names it.
#[derive(serde::Deserialize)]
struct MessageId {
    #[serde(default)]
    id: Option<u64>,
}

/// The `id` of a message that was not decoded (for a `rate_limited` answer the client
/// can match to the message it will resend).
fn message_id(text: &str) -> Option<u64> {
    serde_json::from_str::<MessageId>(text).ok()?.id
}

/// What a client's `hello` says.
struct Hello {
    key: Option<String>,
    asked: Option<Role>,
    participant_id: Option<ParticipantId>,
    card: Option<String>,
    lang: Lang,
}

/// Waits for `hello`, decides the role and sends `welcome`; `Err(ending)` if the
/// client was refused (and told why).
async fn handshake(
    socket: &mut WebSocket,
    handle: &SessionHandle,
    context: &Context,
) -> Step<Peer> {
    // A session that ends before the hello comes ends the wait.
    let read = tokio::select! {
        read = read_hello(socket) => read?,
        () = handle.stopped() => return Ok(Err(end_of_session(handle))),
    };
    let hello = match read {
        Ok(hello) => hello,
        Err(ending) => return Ok(Err(ending)),
    };
    let role = match role_for(socket, handle, context, &hello).await? {
        Ok(role) => role,
        Err(ending) => return Ok(Err(ending)),
    };
    let lang = hello.lang;
    let deck = handle.deck();
    let wire_limits = WireLimits {
        ping_interval_ms: context.limits.ping_interval.as_millis() as u64,
        idle_timeout_ms: context.limits.idle_timeout.as_millis() as u64,
        max_message_bytes: MAX_MESSAGE_BYTES,
        messages_per_second: context.limits.messages_per_second,
        burst: context.limits.burst,
    };
    let mut welcome =
        crate::wire::view::welcome(handle.code(), &deck, role, &context.join_url, wire_limits);
    let mut participant = None;
    let mut seat = None;
    match role {
        Role::Participant => {
            let info = match admit(socket, handle, context, hello).await? {
                Ok(info) => info,
                Err(ending) => return Ok(Err(ending)),
            };
            context.joins.welcomed(info.participant);
            if info.holds_card {
                seat = Some(handle.seat(info.participant));
            }
            participant = Some(info.participant);
            welcome.participant_id = Some(info.participant);
            welcome.group = info.group;
            welcome.votes = info.votes;
            welcome.arguments = info.arguments;
            welcome.upvoted = info.upvoted;
            welcome.questions = info.questions;
            welcome.upvoted_questions = info.upvoted_questions;
        }
        Role::Host => {
            welcome.slides = crate::wire::view::outline(&deck);
            welcome.screen_url = Some(context.screen_url.clone());
        }
        Role::Screen => {}
    }
    send(socket, &ServerMsg::Welcome(Box::new(welcome))).await?;
    Ok(Ok(Peer {
        role,
        lang,
        participant,
        seat,
    }))
}

/// Waits for the client's first message, which must be a `hello`.
async fn read_hello(socket: &mut WebSocket) -> Step<Hello> {
    let refused = Ending::Close(CLOSE_POLICY, "hello expected");
    let text = match tokio::time::timeout(HELLO_TIMEOUT, socket.recv()).await {
        Err(_) => return Ok(Err(refused)),
        Ok(None | Some(Ok(Message::Close(_)))) => return Ok(Err(Ending::Gone)),
        Ok(Some(Err(e))) => return Err(e).context("reading hello"),
        Ok(Some(Ok(Message::Text(text)))) => text,
        Ok(Some(Ok(_))) => Utf8Bytes::from_static(""),
    };
    match serde_json::from_str::<ClientMsg>(&text) {
        Ok(ClientMsg::Hello {
            key,
            role,
            participant_id,
            card,
            lang,
        }) => Ok(Ok(Hello {
            key,
            asked: role,
            participant_id,
            card,
            lang,
        })),
        _ if is_hello(&text) => {
            // A hello with a field of the wrong kind: say so, not "hello expected".
            send(socket, &error(Lang::Nl, "bad_message", None)).await?;
            Ok(Err(Ending::Close(CLOSE_POLICY, "bad hello")))
        }
        _ => {
            send(socket, &error(Lang::Nl, "hello_expected", None)).await?;
            Ok(Err(refused))
        }
    }
}

/// The role the hello's key (or, without one, the cookie for the role it asks for)
/// opens; a key for another role than the one asked for is refused.
async fn role_for(
    socket: &mut WebSocket,
    handle: &SessionHandle,
    context: &Context,
    hello: &Hello,
) -> Step<Role> {
    let key = hello.key.clone().or_else(|| match hello.asked {
        Some(Role::Host) => context.cookies.host.clone(),
        Some(Role::Screen) => context.cookies.screen.clone(),
        _ => None,
    });
    match handle.role_for(key.as_deref()) {
        Some(role) if hello.asked.is_none() || hello.asked == Some(role) => Ok(Ok(role)),
        _ => {
            send(socket, &error(hello.lang, "bad_key", None)).await?;
            Ok(Err(Ending::Close(CLOSE_POLICY, "bad key")))
        }
    }
}

/// Joins a participant (new, returning, or by its card) within the limit on new
/// participants per address.
async fn admit(
    socket: &mut WebSocket,
    handle: &SessionHandle,
    context: &Context,
    hello: Hello,
) -> Step<JoinInfo> {
    let lang = hello.lang;
    let card = hello.card.filter(|c| !c.is_empty());
    // Only a hello that creates a participant counts: a returning phone presents an id
    // the limiter saw, or (after a restart) one the session has stored. A card always
    // counts, so cards cannot be guessed faster than phones join.
    let returning = card.is_none()
        && match hello.participant_id {
            Some(id) if context.joins.is_welcomed(&id) => true,
            Some(id) => match handle.knows(id).await {
                Ok(knows) => knows,
                Err(e) => return unavailable(socket, lang, &e).await,
            },
            None => false,
        };
    if !returning && !context.joins.admit(context.peer, None, Instant::now()) {
        send(socket, &error(lang, "too_many_joins", None)).await?;
        return Ok(Err(Ending::Close(CLOSE_TRY_AGAIN_LATER, "too many joins")));
    }
    let joined = match handle.join_with_card(hello.participant_id, card).await {
        Ok(joined) => joined,
        Err(e) => return unavailable(socket, lang, &e).await,
    };
    match joined {
        Ok(info) => Ok(Ok(info)),
        Err(NotAdmitted::Storage(_)) => {
            send(socket, &error(lang, "storage_unavailable", None)).await?;
            Ok(Err(Ending::Close(
                CLOSE_TRY_AGAIN_LATER,
                "storage unavailable",
            )))
        }
        Err(NotAdmitted::Refused(rejection)) => {
            send(socket, &error(lang, rejection.code(), None)).await?;
            Ok(Err(if rejection == Rejection::CardRequired {
                Ending::Close(CLOSE_CARD, "card required")
            } else {
                Ending::Close(CLOSE_CARD, "unknown card")
            }))
        }
    }
}

/// Refuses a phone the session cannot take now: its task ended while asked (the
/// server stops, or in a cluster the owner died and no node has taken the session
/// over yet). The client hears why and tries again after a pause.
async fn unavailable<T>(socket: &mut WebSocket, lang: Lang, why: &anyhow::Error) -> Step<T> {
    tracing::debug!("a hello the session cannot answer now: {why:#}");
    send(socket, &error(lang, "session_unavailable", None)).await?;
    Ok(Err(Ending::Close(
        CLOSE_TRY_AGAIN_LATER,
        "session unavailable",
    )))
}

/// A connection to a session this node cannot reach now (in a cluster: NATS is
/// away, or the session's owner does not answer and keeps its lease): the `hello` is
/// answered with `session_unavailable` and the close "try again later".
pub async fn serve_unavailable(mut socket: WebSocket) {
    let lang = match read_hello(&mut socket).await {
        Ok(Ok(hello)) => hello.lang,
        Ok(Err(Ending::Close(code, reason))) => return close(&mut socket, code, reason).await,
        Ok(Err(Ending::Gone)) | Err(_) => return,
    };
    if send(&mut socket, &error(lang, "session_unavailable", None))
        .await
        .is_ok()
    {
        close(&mut socket, CLOSE_TRY_AGAIN_LATER, "session unavailable").await;
    }
}

/// The command a decoded message asks for, or the error code refusing it. The role
/// decides what is allowed, and a participant acts only as itself: its id comes from
/// the connection, never from the message.
pub fn command_for(
    msg: ClientMsg,
    role: Role,
    participant: Option<ParticipantId>,
    now_ms: u64,
) -> Result<Command, &'static str> {
    if matches!(msg, ClientMsg::Hello { .. }) {
        return Err("already_joined");
    }
    let allowed = match role {
        Role::Host => msg.is_host_command(),
        Role::Participant => !msg.is_host_command() && participant.is_some(),
        Role::Screen => false,
    };
    if !allowed {
        return Err("not_allowed");
    }
    Ok(match msg {
        ClientMsg::Vote {
            slide,
            round,
            option,
            ..
        } => Command::Vote {
            participant: participant.ok_or("not_allowed")?,
            slide,
            round,
            option,
        },
        ClientMsg::ChooseGroup { group } => Command::ChooseGroup {
            participant: participant.ok_or("not_allowed")?,
            group,
        },
        ClientMsg::Argue { slide, text, .. } => Command::Argue {
            participant: participant.ok_or("not_allowed")?,
            slide,
            text,
            now_ms,
        },
        ClientMsg::WithdrawArgument { slide } => Command::WithdrawArgument {
            participant: participant.ok_or("not_allowed")?,
            slide,
            now_ms,
        },
        ClientMsg::Upvote { argument } => Command::Upvote {
            participant: participant.ok_or("not_allowed")?,
            argument,
        },
        ClientMsg::Moderate { argument, status } => Command::Moderate {
            argument,
            status: match status.as_str() {
                "approved" => Some(crate::core::arguments::Status::Approved),
                "highlighted" => Some(crate::core::arguments::Status::Highlighted),
                "hidden" => None,
                _ => return Err("bad_status"),
            },
        },
        ClientMsg::ShowArguments { visible } => Command::ShowArguments { visible },
        ClientMsg::GoTo { slide } => Command::GoTo { slide },
        ClientMsg::Next => Command::Next,
        ClientMsg::Prev => Command::Prev,
        ClientMsg::OpenVote => Command::OpenVote,
        ClientMsg::CloseVote => Command::CloseVote,
        ClientMsg::Reveal { visible } => Command::Reveal { visible },
        ClientMsg::Revote => Command::Revote,
        ClientMsg::ShowShift { visible } => Command::ShowShift { visible },
        ClientMsg::ShowGroups { visible } => Command::ShowGroups { visible },
        ClientMsg::HandCount { counts } => Command::HandCount { counts },
        ClientMsg::StartTimer { seconds } => Command::StartTimer { seconds, now_ms },
        ClientMsg::StopTimer => Command::StopTimer,
        ClientMsg::Ask { text, .. } => Command::Ask {
            participant: participant.ok_or("not_allowed")?,
            text,
            now_ms,
        },
        ClientMsg::WithdrawQuestion { question } => Command::WithdrawQuestion {
            participant: participant.ok_or("not_allowed")?,
            question,
            now_ms,
        },
        ClientMsg::UpvoteQuestion { question } => Command::UpvoteQuestion {
            participant: participant.ok_or("not_allowed")?,
            question,
        },
        ClientMsg::ModerateQuestion { question, status } => Command::ModerateQuestion {
            question,
            status: match status.as_str() {
                "approved" => Some(crate::core::questions::Status::Approved),
                "highlighted" => Some(crate::core::questions::Status::Highlighted),
                "answered" => Some(crate::core::questions::Status::Answered),
                "hidden" => None,
                _ => return Err("bad_status"),
            },
        },
        ClientMsg::OpenQuestions { open } => Command::OpenQuestions { open },
        ClientMsg::ShowQuestions { visible } => Command::ShowQuestions { visible },
        ClientMsg::ShowMap { visible } => Command::ShowMap { visible },
        ClientMsg::MapGroup => Command::MapGroup {
            participant: participant.ok_or("not_allowed")?,
        },
        ClientMsg::Hello { .. } => return Err("already_joined"),
    })
}

/// Handles one text message: forwards a command to the actor, which answers via the
/// outbox (`Ok(id)`, the message's id if it had one), or returns the error the
/// connection answers itself.
async fn on_text(
    text: &str,
    peer: &Peer,
    handle: &SessionHandle,
    outbox: &Outbox,
) -> Result<Result<Option<u64>, ServerMsg>> {
    let id = message_id(text);
    let Ok(msg) = serde_json::from_str::<ClientMsg>(text) else {
        return Ok(Err(error(peer.lang, "bad_message", id)));
    };
    let command = match command_for(msg, peer.role, peer.participant, handle.now_ms()) {
        Ok(command) => command,
        Err(code) => return Ok(Err(error(peer.lang, code, id))),
    };
    handle
        .request(Request::Command {
            command,
            id,
            lang: peer.lang,
            outbox: outbox.clone(),
        })
        .await?;
    Ok(Ok(id))
}

/// Whether a message that did not decode says it is a `hello`.
fn is_hello(text: &str) -> bool {
    #[derive(serde::Deserialize)]
    struct Tag<'a> {
        #[serde(rename = "type", borrow)]
        kind: std::borrow::Cow<'a, str>,
    }
    serde_json::from_str::<Tag>(text).is_ok_and(|t| t.kind == "hello")
}

/// An error message for codes the connection decides itself.
fn error(lang: Lang, code: &str, id: Option<u64>) -> ServerMsg {
    ServerMsg::error(code, lang, id)
}

async fn send(socket: &mut WebSocket, msg: &ServerMsg) -> Result<()> {
    let text = serde_json::to_string(msg).context("serializing a server message")?;
    socket
        .send(Message::Text(text.into()))
        .await
        .context("writing to the socket")
}

/// Sends a close frame and waits (briefly) for the client's close in answer.
async fn close(socket: &mut WebSocket, code: u16, reason: &'static str) {
    let frame = CloseFrame {
        code,
        reason: Utf8Bytes::from_static(reason),
    };
    // The peer may already be gone; then there is nobody to tell.
    if socket.send(Message::Close(Some(frame))).await.is_err() {
        return;
    }
    let drain = async {
        while let Some(Ok(msg)) = socket.recv().await {
            if matches!(msg, Message::Close(_)) {
                break;
            }
        }
    };
    // A client that never answers is dropped when the wait ends.
    tokio::time::timeout(CLOSE_HANDSHAKE, drain).await.ok();
}
