//! The relay's limits from outside, as an attacker and an admin meet them: real sockets on
//! loopback against an in-process relay with small limits. Whatever a connection held comes
//! back however it ended (the lifetime included), each cap refuses and is counted by reason
//! at `/metrics`, and a linked phone's routes need its proof.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs,
    reason = "integration test: failing loudly is the point"
)]

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use hybrid::contact_proof::{ContactId, ContactKey, PROOF_LEN};
use hybrid::io::driver::ContactListener;
use hybrid::io::relay::{Relay, RelayConfig};
use hybrid::io::tunnel::{Tunnel, TunnelConfig, TunnelError, WsConnector};
use hybrid::qr::RequestHint;
use hybrid::tunnel_url::{CLIENT_PAYLOAD_HEADER, ClientPayload, TunnelRequest};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

/// Every test stops by itself within this.
const BOUND: Duration = Duration::from_secs(30);

async fn start(config: RelayConfig) -> (SocketAddr, String) {
    let relay = Relay::bind((Ipv4Addr::LOCALHOST, 0).into(), config)
        .await
        .unwrap();
    let addr = relay.local_addr().unwrap();
    tokio::spawn(relay.run());
    (addr, format!("ws://{addr}"))
}

async fn metrics(addr: SocketAddr) -> String {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(b"GET /metrics HTTP/1.1\r\nhost: relay\r\n\r\n")
        .await
        .unwrap();
    let mut page = String::new();
    stream.read_to_string(&mut page).await.unwrap();
    page
}

fn value(page: &str, name: &str) -> u64 {
    page.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
        .unwrap_or_else(|| panic!("{name} missing from\n{page}"))
        .trim()
        .parse()
        .unwrap()
}

fn refusals(page: &str, reason: &str) -> u64 {
    value(
        page,
        &format!("cable_refusals_total{{reason=\"{reason}\"}}"),
    )
}

/// Waits (bounded) until nothing is open at the relay any more.
async fn drained(addr: SocketAddr) -> String {
    for _ in 0..100 {
        let page = metrics(addr).await;
        let open = [
            "cable_tunnels_open",
            "cable_connections_open",
            "cable_listeners_open",
            "cable_buffered_bytes",
        ]
        .map(|name| value(&page, name));
        if open == [0; 4] {
            return page;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the relay kept something open:\n{}", metrics(addr).await);
}

fn tunnel_hex(n: u32) -> String {
    format!("{n:032X}")
}

async fn phone(url: &str, n: u32) -> Result<Tunnel, TunnelError> {
    let request = TunnelRequest::plain(format!("{url}/cable/new/{}", tunnel_hex(n)));
    Tunnel::connect(&request, &TunnelConfig::default()).await
}

async fn client(url: &str, n: u32) -> Result<Tunnel, TunnelError> {
    let request = TunnelRequest::plain(format!("{url}/cable/connect/000001/{}", tunnel_hex(n)));
    Tunnel::connect(&request, &TunnelConfig::default()).await
}

async fn contact(url: &str, id: &ContactId) -> Result<Tunnel, TunnelError> {
    let payload = ClientPayload {
        link_id: vec![1; 8],
        client_nonce: [2; 16],
        hint: RequestHint::GetAssertion,
    };
    let request = TunnelRequest {
        url: format!("{url}/cable/contact/{}", id.to_path()),
        headers: vec![(CLIENT_PAYLOAD_HEADER.to_owned(), payload.header_value())],
    };
    Tunnel::connect(&request, &TunnelConfig::default()).await
}

/// A TCP connection from loopback address `from`.
async fn tcp_from(from: Ipv4Addr, to: SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind((from, 0).into()).unwrap();
    socket.connect(to).await.unwrap()
}

/// Whether the relay closes `stream` within `within` (reads end or fail).
async fn closed_within(stream: &mut TcpStream, within: Duration) -> bool {
    let mut buf = [0u8; 256];
    matches!(
        tokio::time::timeout(within, stream.read(&mut buf)).await,
        Ok(Ok(0) | Err(_))
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn everything_comes_back_after_connections_run_into_the_lifetime() {
    tokio::time::timeout(BOUND, async {
        let config = RelayConfig {
            max_tunnels: 6,
            tunnel_lifetime: Duration::from_secs(1),
            ..RelayConfig::default()
        };
        let (addr, url) = start(config).await;
        let connector = WsConnector::new(TunnelConfig::default());
        // Fill every tunnel slot with quiet phones and every listener slot with phones that
        // never hang up.
        let mut held = Vec::new();
        for n in 0..6 {
            held.push(phone(&url, n).await.unwrap());
        }
        let mut listeners = Vec::new();
        for n in 0..6u8 {
            let key = ContactKey::derive(&[n; 32]);
            listeners.push(
                ContactListener::connect(&connector, &url, &key)
                    .await
                    .unwrap(),
            );
        }
        assert!(matches!(
            phone(&url, 99).await,
            Err(TunnelError::Refused(503))
        ));
        let extra = ContactKey::derive(&[99; 32]);
        assert!(
            ContactListener::connect(&connector, &url, &extra)
                .await
                .is_err()
        );
        let page = metrics(addr).await;
        assert_eq!(value(&page, "cable_tunnels_open"), 6);
        assert_eq!(value(&page, "cable_listeners_open"), 6);
        assert_eq!(value(&page, "cable_connections_open"), 12);
        assert_eq!(refusals(&page, "tunnels_full"), 1);
        assert_eq!(refusals(&page, "listeners_full"), 1);

        // The lifetime cuts them all off; their slots come back.
        tokio::time::sleep(Duration::from_millis(1500)).await;
        drained(addr).await;
        let mut fresh = phone(&url, 100).await.unwrap();
        let mut joined = client(&url, 100).await.unwrap();
        fresh.send(b"after the flood".to_vec()).await.unwrap();
        assert_eq!(joined.recv().await.unwrap().unwrap(), b"after the flood");
        let key = ContactKey::derive(&[99; 32]);
        let _listening = ContactListener::connect(&connector, &url, &key)
            .await
            .unwrap();
        drop((fresh, joined, held, listeners));
        tokio::time::sleep(Duration::from_millis(1100)).await;
        drained(addr).await;
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unrouted_connections_are_capped_per_source_and_cut_at_the_deadline() {
    tokio::time::timeout(BOUND, async {
        let config = RelayConfig {
            max_unrouted_per_source: 3,
            handshake_timeout: Duration::from_secs(1),
            ..RelayConfig::default()
        };
        let (addr, url) = start(config).await;
        let source = Ipv4Addr::new(127, 0, 0, 7);
        let mut silent = Vec::new();
        for _ in 0..3 {
            silent.push(tcp_from(source, addr).await);
        }
        // One more from the same address is closed at once; another address is not affected.
        let mut fourth = tcp_from(source, addr).await;
        assert!(closed_within(&mut fourth, Duration::from_millis(500)).await);
        let mut neighbour = tcp_from(Ipv4Addr::new(127, 0, 0, 8), addr).await;
        assert!(!closed_within(&mut neighbour, Duration::from_millis(200)).await);
        // A client dribbling its upgrade request is cut at the deadline like the silent ones.
        let mut slow = tcp_from(Ipv4Addr::new(127, 0, 0, 9), addr).await;
        let request = format!(
            "GET /cable/new/{} HTTP/1.1\r\nhost: relay\r\nupgrade: websocket\r\n",
            tunnel_hex(1)
        );
        let mut cut = false;
        for byte in request.bytes() {
            if slow.write_all(&[byte]).await.is_err() {
                cut = true;
                break;
            }
            if closed_within(&mut slow, Duration::from_millis(40)).await {
                cut = true;
                break;
            }
        }
        assert!(cut, "the slow client was never cut off");
        for stream in &mut silent {
            assert!(closed_within(stream, Duration::from_secs(2)).await);
        }
        // Routed connections do not count against their source.
        let mut phones = Vec::new();
        for n in 10..16 {
            phones.push(phone(&url, n).await.unwrap());
        }
        let page = metrics(addr).await;
        assert_eq!(refusals(&page, "per_source_full"), 1);
        assert!(refusals(&page, "handshake_timeout") >= 4, "{page}");
        drop((phones, neighbour));
        drained(addr).await;
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_over_the_global_cap_are_closed_and_counted() {
    tokio::time::timeout(BOUND, async {
        let config = RelayConfig {
            max_connections: 3,
            ..RelayConfig::default()
        };
        let (addr, url) = start(config).await;
        let mut phones = Vec::new();
        for n in 0..3 {
            phones.push(phone(&url, n).await.unwrap());
        }
        assert!(phone(&url, 3).await.is_err());
        let page = metrics(addr).await;
        assert_eq!(value(&page, "cable_connections_open"), 3);
        assert_eq!(refusals(&page, "connections_full"), 1);
        drop(phones);
        drained(addr).await;
        assert!(phone(&url, 4).await.is_ok());
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bytes_queued_before_the_client_joins_are_capped() {
    tokio::time::timeout(BOUND, async {
        let config = RelayConfig {
            max_queued_bytes: 1000,
            max_buffered_bytes: 1500,
            ..RelayConfig::default()
        };
        let (addr, url) = start(config).await;
        // Within the cap, early messages wait for the client and arrive first, in order.
        let mut early = phone(&url, 1).await.unwrap();
        early.send(vec![1; 400]).await.unwrap();
        early.send(vec![2; 400]).await.unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_eq!(value(&metrics(addr).await, "cable_buffered_bytes"), 800);
        // The relay as a whole holds at most 1500: the next tunnel's 800 do not fit.
        let mut greedy = phone(&url, 2).await.unwrap();
        greedy.send(vec![3; 800]).await.unwrap();
        assert_eq!(greedy.recv().await.unwrap(), None);
        let reason = greedy.close_reason().unwrap();
        assert_eq!(reason.code, 1008, "{reason:?}");
        let mut joined = client(&url, 1).await.unwrap();
        assert_eq!(joined.recv().await.unwrap().unwrap(), vec![1; 400]);
        assert_eq!(joined.recv().await.unwrap().unwrap(), vec![2; 400]);
        // One tunnel over its own cap is closed with the reason.
        let mut over = phone(&url, 3).await.unwrap();
        over.send(vec![4; 600]).await.unwrap();
        over.send(vec![5; 600]).await.unwrap();
        assert_eq!(over.recv().await.unwrap(), None);
        let reason = over.close_reason().unwrap();
        assert_eq!(reason.code, 1008);
        assert!(reason.reason.contains("queued"), "{reason:?}");
        let page = metrics(addr).await;
        assert_eq!(refusals(&page, "buffer_full"), 1);
        assert_eq!(refusals(&page, "queue_full"), 1);
        assert_eq!(value(&page, "cable_buffered_bytes"), 0);
        drop((early, joined));
        drained(addr).await;
    })
    .await
    .unwrap();
}

/// Opens `/cable/listen/{path}` by hand and answers the relay's nonce with `answer`;
/// returns the HTTP status if refused, else the close code (or 0 for the listening byte).
async fn listen_by_hand(url: &str, path: &str, revoke: bool, answer: &[u8]) -> u16 {
    let mut request = format!("{url}/cable/listen/{path}")
        .into_client_request()
        .unwrap();
    request
        .headers_mut()
        .insert("sec-websocket-protocol", "fido.cable".parse().unwrap());
    if revoke {
        request
            .headers_mut()
            .insert("x-passbridge-revoke", "true".parse().unwrap());
    }
    let mut ws = match tokio_tungstenite::connect_async(request).await {
        Ok((ws, _)) => ws,
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            return response.status().as_u16();
        }
        Err(other) => panic!("{other}"),
    };
    let Some(Ok(Message::Binary(nonce))) = ws.next().await else {
        panic!("no nonce");
    };
    assert_eq!(nonce.len(), 32);
    ws.send(Message::Binary(answer.to_vec().into()))
        .await
        .unwrap();
    loop {
        match ws.next().await {
            Some(Ok(Message::Binary(b))) if b.as_ref() == [1] => return 0,
            Some(Ok(Message::Close(Some(frame)))) => return frame.code.into(),
            Some(Ok(_)) => {}
            _ => return 1006,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_linked_phone_must_prove_its_contact_id_to_listen_or_unlink() {
    tokio::time::timeout(BOUND, async {
        let (addr, url) = start(RelayConfig::default()).await;
        let connector = WsConnector::new(TunnelConfig::default());
        let key = ContactKey::derive(&[5; 32]);
        let id = key.contact_id();
        // Anyone who knows the ID but not the key is refused, whatever they answer.
        assert_eq!(
            listen_by_hand(&url, &id.to_path(), false, &[0; PROOF_LEN]).await,
            1008
        );
        assert_eq!(
            listen_by_hand(&url, &id.to_path(), true, &[7; 10]).await,
            1008
        );
        // A valid proof from another key, or for another nonce, does not prove this ID.
        let thief = ContactKey::derive(&[6; 32]);
        let replay = thief.prove(hybrid::contact_proof::ContactOp::Listen, &[0; 32]);
        assert_eq!(
            listen_by_hand(&url, &id.to_path(), false, &replay).await,
            1008
        );
        // Malformed IDs never reach the proof.
        for bad in ["phone-1", "AAAAAAAAAAAAAAAAAAAAAB", "AAAAAAAAAAAAAAAAAAAA"] {
            assert_eq!(listen_by_hand(&url, bad, false, &[]).await, 400, "{bad}");
        }
        let page = metrics(addr).await;
        assert_eq!(refusals(&page, "contact_proof"), 3);
        assert_eq!(value(&page, "cable_listeners_open"), 0);

        // The phone itself listens, and a desktop's contact reaches it.
        let mut listener = ContactListener::connect(&connector, &url, &key)
            .await
            .unwrap();
        assert_eq!(value(&metrics(addr).await, "cable_listeners_open"), 1);
        let desktop = contact(&url, &id).await.unwrap();
        let push = listener.next_contact().await.unwrap();
        assert_eq!(push.payload.link_id, vec![1; 8]);
        drop(desktop);

        // A thief cannot unlink it; the phone can, and then desktops get 410 Gone.
        let forged = ContactListener::<Tunnel>::revoke(&connector, &url, &thief).await;
        assert!(forged.is_ok(), "the thief's own ID is theirs to unlink");
        assert!(
            contact(&url, &id).await.is_ok(),
            "the phone is still linked"
        );
        assert!(listener.next_contact().await.is_ok());
        ContactListener::<Tunnel>::revoke(&connector, &url, &key)
            .await
            .unwrap();
        assert!(matches!(
            contact(&url, &id).await,
            Err(TunnelError::Refused(410))
        ));
        assert!(listener.next_contact().await.is_err());
        let page = drained(addr).await;
        assert_eq!(value(&page, "cable_revoked_contacts"), 2);
    })
    .await
    .unwrap();
}
