//! One WebSocket connection: the `hello` handshake, then one loop that forwards
//! commands to the session's actor and views, acks and errors back to the client.

use std::time::Duration;

use anyhow::{bail, Context, Result};
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket};
use tokio::sync::mpsc;

use crate::hub::{Outbox, Request, SessionHandle};
use crate::protocol::{ClientMsg, Lang, Role, ServerMsg, Welcome, PROTOCOL_VERSION};
use crate::session::{Command, ParticipantId};

/// How long a new connection may take to say `hello` before it is closed.
pub const HELLO_TIMEOUT: Duration = Duration::from_secs(10);

/// Close code for a policy violation (RFC 6455): wrong key, no hello.
pub const CLOSE_POLICY: u16 = 1008;

/// Close code for "going away": the session stopped.
pub const CLOSE_GOING_AWAY: u16 = 1001;

/// Who is on the other end, once `hello` is done.
struct Peer {
    role: Role,
    lang: Lang,
    participant: Option<ParticipantId>,
}

/// Runs a connection to its end; logs why it ended if that was an error.
pub async fn serve(socket: WebSocket, handle: SessionHandle, join_url: String, screen_url: String) {
    if let Err(e) = run(socket, &handle, join_url, screen_url).await {
        tracing::debug!(code = %handle.code(), "connection ended: {e:#}");
    }
}

async fn run(
    mut socket: WebSocket,
    handle: &SessionHandle,
    join_url: String,
    screen_url: String,
) -> Result<()> {
    let Some(peer) = handshake(&mut socket, handle, join_url, screen_url).await? else {
        return Ok(());
    };
    // Subscribed in the handshake before the welcome was built, so no change between
    // the welcome and the first view is missed; the first view goes out now.
    let mut view = handle.subscribe(peer.role);
    let first = view.borrow_and_update().clone();
    socket.send(Message::Text(first)).await?;

    let (outbox, mut inbox) = mpsc::unbounded_channel::<ServerMsg>();
    loop {
        tokio::select! {
            incoming = socket.recv() => match incoming {
                None | Some(Ok(Message::Close(_))) => return Ok(()),
                Some(Err(e)) => return Err(e).context("reading from the socket"),
                Some(Ok(Message::Text(text))) => {
                    if let Some(reply) = on_text(&text, &peer, handle, &outbox).await? {
                        send(&mut socket, &reply).await?;
                    }
                }
                Some(Ok(Message::Binary(_))) => {
                    send(&mut socket, &error(peer.lang, "bad_message", None)).await?;
                }
                // Pings are answered by the socket itself.
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
            },
            changed = view.changed() => {
                if changed.is_err() {
                    close(&mut socket, CLOSE_GOING_AWAY, "session stopped").await;
                    return Ok(());
                }
                let bytes = view.borrow_and_update().clone();
                socket.send(Message::Text(bytes)).await?;
            }
            Some(msg) = inbox.recv() => send(&mut socket, &msg).await?,
        }
    }
}

/// Waits for `hello`, decides the role and sends `welcome`; `None` if the client was
/// refused (and told why).
async fn handshake(
    socket: &mut WebSocket,
    handle: &SessionHandle,
    join_url: String,
    screen_url: String,
) -> Result<Option<Peer>> {
    let first = tokio::time::timeout(HELLO_TIMEOUT, socket.recv()).await;
    let text = match first {
        Err(_) => {
            close(socket, CLOSE_POLICY, "hello expected").await;
            return Ok(None);
        }
        Ok(None | Some(Ok(Message::Close(_)))) => return Ok(None),
        Ok(Some(Err(e))) => return Err(e).context("reading hello"),
        Ok(Some(Ok(Message::Text(text)))) => text,
        Ok(Some(Ok(_))) => Utf8Bytes::from_static(""),
    };
    let Ok(ClientMsg::Hello {
        key,
        participant_id,
        lang,
    }) = serde_json::from_str::<ClientMsg>(&text)
    else {
        send(socket, &error(Lang::Nl, "hello_expected", None)).await?;
        close(socket, CLOSE_POLICY, "hello expected").await;
        return Ok(None);
    };
    let Some(role) = handle.role_for(key.as_deref()) else {
        send(socket, &error(lang, "bad_key", None)).await?;
        close(socket, CLOSE_POLICY, "bad key").await;
        return Ok(None);
    };
    let deck = handle.deck();
    let mut welcome = Welcome {
        version: PROTOCOL_VERSION,
        role,
        code: handle.code().to_owned(),
        title: deck.title.clone(),
        groups: deck.groups.clone(),
        participant_id: None,
        group: None,
        votes: vec![],
        slides: vec![],
        join_url,
        screen_url: None,
    };
    let mut participant = None;
    match role {
        Role::Participant => {
            let info = handle.join(participant_id).await?;
            participant = Some(info.participant);
            welcome.participant_id = Some(info.participant);
            welcome.group = info.group;
            welcome.votes = info.votes;
        }
        Role::Host => {
            welcome.slides = crate::web::outline(deck);
            welcome.screen_url = Some(screen_url);
        }
        Role::Screen => {}
    }
    send(socket, &ServerMsg::Welcome(welcome)).await?;
    Ok(Some(Peer {
        role,
        lang,
        participant,
    }))
}

/// Handles one text message; returns an immediate reply (errors the connection can
/// answer itself), or forwards a command to the actor, which answers via the outbox.
async fn on_text(
    text: &str,
    peer: &Peer,
    handle: &SessionHandle,
    outbox: &Outbox,
) -> Result<Option<ServerMsg>> {
    let msg = match serde_json::from_str::<ClientMsg>(text) {
        Ok(msg) => msg,
        Err(_) => return Ok(Some(error(peer.lang, "bad_message", None))),
    };
    let vote_id = match &msg {
        ClientMsg::Vote { id, .. } => Some(*id),
        _ => None,
    };
    let allowed = match peer.role {
        Role::Host => msg.is_host_command(),
        Role::Participant => !msg.is_host_command(),
        Role::Screen => false,
    };
    if matches!(msg, ClientMsg::Hello { .. }) {
        return Ok(Some(error(peer.lang, "already_joined", None)));
    }
    if !allowed {
        return Ok(Some(error(peer.lang, "not_allowed", vote_id)));
    }
    let command = match (msg, peer.participant) {
        (
            ClientMsg::Vote {
                slide,
                round,
                option,
                ..
            },
            Some(participant),
        ) => Command::Vote {
            participant,
            slide,
            round,
            option,
        },
        (ClientMsg::ChooseGroup { group }, Some(participant)) => {
            Command::ChooseGroup { participant, group }
        }
        (ClientMsg::GoTo { slide }, _) => Command::GoTo { slide },
        (ClientMsg::Next, _) => Command::Next,
        (ClientMsg::Prev, _) => Command::Prev,
        (ClientMsg::OpenVote, _) => Command::OpenVote,
        (ClientMsg::CloseVote, _) => Command::CloseVote,
        (ClientMsg::Reveal { visible }, _) => Command::Reveal { visible },
        (ClientMsg::Revote, _) => Command::Revote,
        (ClientMsg::StartTimer { seconds }, _) => Command::StartTimer {
            seconds,
            now_ms: handle.now_ms(),
        },
        (ClientMsg::StopTimer, _) => Command::StopTimer,
        (msg, _) => bail!("message {msg:?} passed the role check without a mapping"),
    };
    handle
        .request(Request::Command {
            command,
            vote_id,
            lang: peer.lang,
            outbox: outbox.clone(),
        })
        .await?;
    Ok(None)
}

/// An error message for codes the connection decides itself.
fn error(lang: Lang, code: &str, id: Option<u64>) -> ServerMsg {
    let message = match (code, lang) {
        ("not_allowed", Lang::Nl) => "Dat mag alleen de gespreksleider.",
        ("not_allowed", Lang::En) => "Only the facilitator may do that.",
        ("bad_key", Lang::Nl) => "Deze sleutel hoort niet bij deze sessie.",
        ("bad_key", Lang::En) => "This key does not belong to this session.",
        ("hello_expected", _) => {
            "Het eerste bericht moet 'hello' zijn. / The first message must be 'hello'."
        }
        ("already_joined", Lang::Nl) => "Je bent al aangemeld.",
        ("already_joined", Lang::En) => "You have already joined.",
        (_, Lang::Nl) => "Dit bericht wordt niet begrepen.",
        (_, Lang::En) => "This message is not understood.",
    };
    ServerMsg::Error {
        code: code.to_owned(),
        message: message.to_owned(),
        id,
    }
}

async fn send(socket: &mut WebSocket, msg: &ServerMsg) -> Result<()> {
    let text = serde_json::to_string(msg).context("serializing a server message")?;
    socket
        .send(Message::Text(text.into()))
        .await
        .context("writing to the socket")
}

async fn close(socket: &mut WebSocket, code: u16, reason: &'static str) {
    let frame = CloseFrame {
        code,
        reason: Utf8Bytes::from_static(reason),
    };
    // The peer may already be gone; a failed close needs no further handling.
    socket.send(Message::Close(Some(frame))).await.ok();
}
