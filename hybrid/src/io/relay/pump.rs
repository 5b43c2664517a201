//! What the relay does with an accepted socket: a tunnel's first peer waits for the second,
//! then both are pumped until one leaves or a limit ends the tunnel; a listening linked phone
//! gets its contact pushes.

use std::sync::atomic::Ordering;

use futures_util::{SinkExt, StreamExt};
use tokio::sync::oneshot;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

use std::sync::Arc;

use super::{Joined, ListenerGuard, Queued, Refused, Shared, TunnelGuard, Ws};

/// The first peer's side of a tunnel: waits for the second peer, then pumps. `tunnel` frees
/// the slot when this returns or is cut off.
pub(super) async fn run_phone_side(
    shared: &Arc<Shared>,
    tunnel: TunnelGuard,
    rx: oneshot::Receiver<Joined>,
    signal: bool,
    mut phone: Ws,
) {
    // Wait for the client. A phone has nothing to say before the client's first handshake
    // message, but whatever it sends meanwhile is kept (within the per-peer message limit and
    // the queued-bytes caps) and delivered first, so the relay never reorders or drops a frame.
    let mut early: Vec<Message> = Vec::new();
    let mut queued = Queued::new(shared);
    let mut over: Option<Refused> = None;
    let limit = usize::try_from(shared.config.max_messages_per_peer).unwrap_or(usize::MAX);
    let client = tokio::select! {
        c = rx => c.ok(),
        () = async {
            while let Some(Ok(m)) = phone.next().await {
                match m {
                    Message::Binary(data) => {
                        if early.len() >= limit {
                            over = Some(Refused::TooManyMessages);
                            break;
                        }
                        if let Err(reason) = queued.add(data.len()) {
                            over = Some(reason);
                            break;
                        }
                        early.push(Message::Binary(data));
                    }
                    Message::Ping(_) | Message::Pong(_) => {}
                    _ => break,
                }
            }
        } => None,
    };
    // The slot stays (joined) so a second client is refused until the tunnel ends.
    let Some((mut client, _client_guard)) = client else {
        let bye = over.map(|reason| {
            shared.refuse(reason);
            Ending::from(reason).frame(shared.config.max_message_size)
        });
        let _ = phone.close(bye).await;
        return;
    };
    shared
        .metrics
        .tunnels_joined_total
        .fetch_add(1, Ordering::Relaxed);
    if signal
        && phone
            .send(Message::Binary(vec![0x00].into()))
            .await
            .is_err()
    {
        return;
    }
    let delivered = u64::try_from(early.len()).unwrap_or(u64::MAX);
    for message in early {
        if client.send(message).await.is_err() {
            return;
        }
    }
    queued.clear();
    pump(shared, phone, client, delivered).await;
    drop(tunnel);
}

/// Forwards between phone `a` and client `b`; `already_from_a` messages of the phone's were
/// delivered before the pump started and count against its limit.
async fn pump(shared: &Shared, a: Ws, b: Ws, already_from_a: u64) {
    let (mut a_tx, mut a_rx) = a.split();
    let (mut b_tx, mut b_rx) = b.split();
    let (mut from_a, mut from_b) = (already_from_a, 0u64);
    let mut ending = Ending::PeerLeft;
    let limit = shared.config.max_messages_per_peer;
    loop {
        let next = tokio::time::timeout(shared.config.idle_timeout, async {
            tokio::select! {
                m = a_rx.next() => (true, m),
                m = b_rx.next() => (false, m),
            }
        })
        .await;
        let Ok((from_phone, message)) = next else {
            ending = Ending::Idle;
            break;
        };
        let message = match message {
            Some(Ok(Message::Binary(data))) => data,
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
            // An oversized message is refused (counted) and ends the tunnel for both peers.
            Some(Err(tokio_tungstenite::tungstenite::Error::Capacity(_))) => {
                shared.refuse(Refused::MessageTooBig);
                ending = Ending::Oversized;
                break;
            }
            // Close, text and other errors end the tunnel.
            Some(Ok(_) | Err(_)) | None => break,
        };
        let count = if from_phone { &mut from_a } else { &mut from_b };
        *count = count.saturating_add(1);
        if *count > limit {
            shared.refuse(Refused::TooManyMessages);
            ending = Ending::TooManyMessages;
            break;
        }
        let len = u64::try_from(message.len()).unwrap_or(u64::MAX);
        let sent = if from_phone {
            b_tx.send(Message::Binary(message)).await
        } else {
            a_tx.send(Message::Binary(message)).await
        };
        if sent.is_err() {
            break;
        }
        shared
            .metrics
            .bytes_forwarded_total
            .fetch_add(len, Ordering::Relaxed);
        shared
            .metrics
            .messages_forwarded_total
            .fetch_add(1, Ordering::Relaxed);
    }
    // Both peers learn why the tunnel ended, so a client can tell "the phone hung up" from
    // "the relay refused".
    let bye = || Message::Close(Some(ending.frame(shared.config.max_message_size)));
    let _ = a_tx.send(bye()).await;
    let _ = b_tx.send(bye()).await;
}

/// Why the relay ended a joined tunnel; sent to both peers as the WebSocket close frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ending {
    /// One peer closed or broke its connection.
    PeerLeft,
    /// A message exceeded the size limit.
    Oversized,
    /// A peer exceeded its message-count limit.
    TooManyMessages,
    /// No traffic for the idle timeout.
    Idle,
    /// The first peer queued more than the relay holds for a tunnel.
    QueueFull,
    /// Waiting tunnels together hold all the relay buffers.
    BufferFull,
}

impl From<Refused> for Ending {
    fn from(reason: Refused) -> Self {
        match reason {
            Refused::QueueFull => Self::QueueFull,
            Refused::BufferFull => Self::BufferFull,
            Refused::MessageTooBig => Self::Oversized,
            _ => Self::TooManyMessages,
        }
    }
}

impl Ending {
    fn frame(self, max_size: usize) -> CloseFrame {
        let (code, reason) = match self {
            Self::PeerLeft => (
                CloseCode::Normal,
                "the other side closed the tunnel".to_owned(),
            ),
            Self::Oversized => (
                CloseCode::Size,
                format!("a message over the relay's {max_size}-byte limit was refused"),
            ),
            Self::TooManyMessages => (
                CloseCode::Policy,
                "the relay's per-tunnel message limit was reached".to_owned(),
            ),
            Self::Idle => (CloseCode::Away, "the tunnel was idle too long".to_owned()),
            Self::QueueFull => (
                CloseCode::Policy,
                "the relay's limit on data queued before the other side joins was reached"
                    .to_owned(),
            ),
            Self::BufferFull => (
                CloseCode::Policy,
                "the relay's buffers are full; try again".to_owned(),
            ),
        };
        CloseFrame {
            code,
            reason: reason.into(),
        }
    }
}

/// Forwards contact pushes to a listening phone until it leaves, is replaced or revoked.
pub(super) async fn run_listener(mut listener: ListenerGuard, mut ws: Ws) {
    loop {
        tokio::select! {
            push = listener.pushes.recv() => match push {
                Some(push) => {
                    if ws.send(Message::Binary(push.into())).await.is_err() {
                        break;
                    }
                }
                // Replaced by a newer listener, or revoked.
                None => break,
            },
            message = ws.next() => match message {
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
                _ => break,
            },
        }
    }
    drop(listener);
    let _ = ws.close(None).await;
}
