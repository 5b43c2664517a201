//! Sans-IO CTAPHID framing (CTAP 2.1 §11.2), independent of the authenticator so the uhid
//! bridge and the UDP transport can share it.
//!
//! Feed every 64-byte OUT report to [`CtapHid::handle_report`]; it answers INIT, PING, WINK,
//! LOCK and framing errors itself and hands complete CBOR/MSG messages out as
//! [`HidEvent::Request`]. Answer them with [`CtapHid::respond`]; while the user is being asked,
//! send [`CtapHid::keepalive`] at least every 100 ms. A CANCEL on the busy channel comes out as
//! [`HidEvent::Cancel`]. Poll [`CtapHid::next_deadline`] and call [`CtapHid::on_timeout`] so
//! an incomplete message ends in `ERR_MSG_TIMEOUT`.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use crate::platform::Rng;

/// HID report size.
pub const REPORT_LEN: usize = 64;
/// One 64-byte report.
pub type Report = [u8; REPORT_LEN];
/// Broadcast channel ID.
pub const BROADCAST_CID: u32 = 0xFFFF_FFFF;
/// Largest message: 57 + 128 × 59 bytes.
pub const MAX_MESSAGE_LEN: usize = 7609;
/// How long a message may stay incomplete.
pub const MSG_TIMEOUT: Duration = Duration::from_millis(500);
/// Data bytes in an initialization packet.
const INIT_DATA: usize = REPORT_LEN - 7;
/// Data bytes in a continuation packet.
const CONT_DATA: usize = REPORT_LEN - 5;
/// Channels remembered at once; the oldest is forgotten first.
const MAX_CHANNELS: usize = 32;

/// CTAPHID commands (without the 0x80 bit).
pub mod cmd {
    /// CTAPHID_PING.
    pub const PING: u8 = 0x01;
    /// CTAPHID_MSG (CTAP1/U2F).
    pub const MSG: u8 = 0x03;
    /// CTAPHID_LOCK.
    pub const LOCK: u8 = 0x04;
    /// CTAPHID_INIT.
    pub const INIT: u8 = 0x06;
    /// CTAPHID_WINK.
    pub const WINK: u8 = 0x08;
    /// CTAPHID_CBOR.
    pub const CBOR: u8 = 0x10;
    /// CTAPHID_CANCEL.
    pub const CANCEL: u8 = 0x11;
    /// CTAPHID_KEEPALIVE.
    pub const KEEPALIVE: u8 = 0x3B;
    /// CTAPHID_ERROR.
    pub const ERROR: u8 = 0x3F;
}

/// CTAPHID_ERROR codes.
pub mod err {
    /// ERR_INVALID_CMD.
    pub const INVALID_CMD: u8 = 0x01;
    /// ERR_INVALID_PAR.
    pub const INVALID_PAR: u8 = 0x02;
    /// ERR_INVALID_LEN.
    pub const INVALID_LEN: u8 = 0x03;
    /// ERR_INVALID_SEQ.
    pub const INVALID_SEQ: u8 = 0x04;
    /// ERR_MSG_TIMEOUT.
    pub const MSG_TIMEOUT: u8 = 0x05;
    /// ERR_CHANNEL_BUSY.
    pub const CHANNEL_BUSY: u8 = 0x06;
    /// ERR_LOCK_REQUIRED.
    pub const LOCK_REQUIRED: u8 = 0x0A;
    /// ERR_INVALID_CHANNEL.
    pub const INVALID_CHANNEL: u8 = 0x0B;
    /// ERR_OTHER.
    pub const OTHER: u8 = 0x7F;
}

/// KEEPALIVE status bytes.
pub mod keepalive_status {
    /// STATUS_PROCESSING.
    pub const PROCESSING: u8 = 1;
    /// STATUS_UPNEEDED.
    pub const UPNEEDED: u8 = 2;
}

/// INIT capability flags.
pub mod capability {
    /// CAPABILITY_WINK.
    pub const WINK: u8 = 0x01;
    /// CAPABILITY_CBOR.
    pub const CBOR: u8 = 0x04;
    /// CAPABILITY_NMSG: no CTAPHID_MSG (U2F).
    pub const NMSG: u8 = 0x08;
}

/// A complete message for the authenticator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// Channel.
    pub cid: u32,
    /// Command (without the 0x80 bit): [`cmd::CBOR`] or [`cmd::MSG`].
    pub cmd: u8,
    /// Message body.
    pub payload: Vec<u8>,
}

/// What the framing layer wants done.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HidEvent {
    /// Send this IN report.
    Send(Report),
    /// Hand this message to the authenticator and answer with [`CtapHid::respond`].
    Request(Request),
    /// The host cancelled the transaction on `cid`; answer it (CTAP2_ERR_KEEPALIVE_CANCEL).
    Cancel {
        /// Channel.
        cid: u32,
    },
}

#[derive(Debug)]
struct Assembly {
    cid: u32,
    cmd: u8,
    total: usize,
    data: Vec<u8>,
    next_seq: u8,
    deadline: Instant,
}

/// CTAPHID framing state machine.
#[derive(Debug)]
pub struct CtapHid<R> {
    rng: R,
    channels: VecDeque<u32>,
    assembly: Option<Assembly>,
    busy: Option<u32>,
    lock: Option<(u32, Instant)>,
    capabilities: u8,
    version: [u8; 3],
}

impl<R: Rng> CtapHid<R> {
    /// Framing with capabilities WINK | CBOR | NMSG.
    pub fn new(rng: R) -> Self {
        Self {
            rng,
            channels: VecDeque::new(),
            assembly: None,
            busy: None,
            lock: None,
            capabilities: capability::WINK | capability::CBOR | capability::NMSG,
            version: [0, 1, 0],
        }
    }

    /// Overrides the INIT capability flags (e.g. drop NMSG when U2F is served).
    pub fn with_capabilities(mut self, capabilities: u8) -> Self {
        self.capabilities = capabilities;
        self
    }

    /// Forgets channels, partial messages, locks and the busy transaction (power cycle).
    pub fn reset(&mut self) {
        self.channels.clear();
        self.assembly = None;
        self.busy = None;
        self.lock = None;
    }

    /// The channel whose request is being processed, if any.
    pub fn busy_channel(&self) -> Option<u32> {
        self.busy
    }

    /// The earliest time [`CtapHid::on_timeout`] has something to do.
    pub fn next_deadline(&self) -> Option<Instant> {
        let a = self.assembly.as_ref().map(|a| a.deadline);
        let l = self.lock.map(|(_, t)| t);
        match (a, l) {
            (Some(a), Some(l)) => Some(a.min(l)),
            (a, l) => a.or(l),
        }
    }

    /// Expires incomplete messages (`ERR_MSG_TIMEOUT`) and locks.
    pub fn on_timeout(&mut self, now: Instant) -> Vec<HidEvent> {
        let mut out = Vec::new();
        if self.assembly.as_ref().is_some_and(|a| now >= a.deadline)
            && let Some(a) = self.assembly.take()
        {
            out.push(HidEvent::Send(error_report(a.cid, err::MSG_TIMEOUT)));
        }
        if self.lock.is_some_and(|(_, t)| now >= t) {
            self.lock = None;
        }
        out
    }

    /// Processes one OUT report (shorter reports are zero-padded, longer ones truncated).
    pub fn handle_report(&mut self, report: &[u8], now: Instant) -> Vec<HidEvent> {
        let mut out = self.on_timeout(now);
        let mut packet = [0u8; REPORT_LEN];
        let n = report.len().min(REPORT_LEN);
        if n < 5 {
            return out;
        }
        if let (Some(dst), Some(src)) = (packet.get_mut(..n), report.get(..n)) {
            dst.copy_from_slice(src);
        }
        let [c0, c1, c2, c3, b4, b5, b6, ..] = packet;
        let cid = u32::from_be_bytes([c0, c1, c2, c3]);
        if b4 & 0x80 != 0 {
            let len = usize::from(u16::from_be_bytes([b5, b6]));
            let data = packet.get(7..).unwrap_or_default();
            self.init_packet(cid, b4 & 0x7F, len, data, now, &mut out);
        } else {
            let data = packet.get(5..).unwrap_or_default();
            self.cont_packet(cid, b4, data, now, &mut out);
        }
        out
    }

    fn is_allocated(&self, cid: u32) -> bool {
        self.channels.contains(&cid)
    }

    fn init_packet(
        &mut self,
        cid: u32,
        command: u8,
        len: usize,
        data: &[u8],
        now: Instant,
        out: &mut Vec<HidEvent>,
    ) {
        if cid == 0 {
            out.push(HidEvent::Send(error_report(cid, err::INVALID_CHANNEL)));
            return;
        }
        if command == cmd::INIT {
            self.init(cid, len, data, out);
            return;
        }
        if cid == BROADCAST_CID || !self.is_allocated(cid) {
            out.push(HidEvent::Send(error_report(cid, err::INVALID_CHANNEL)));
            return;
        }
        if command == cmd::CANCEL {
            if self.busy == Some(cid) {
                out.push(HidEvent::Cancel { cid });
            }
            if self.assembly.as_ref().is_some_and(|a| a.cid == cid) {
                self.assembly = None;
            }
            return;
        }
        let other_busy = self.busy.is_some_and(|b| b != cid)
            || self.assembly.as_ref().is_some_and(|a| a.cid != cid)
            || self.lock.is_some_and(|(l, t)| l != cid && now < t);
        if other_busy || self.busy == Some(cid) {
            out.push(HidEvent::Send(error_report(cid, err::CHANNEL_BUSY)));
            return;
        }
        if self.assembly.take().is_some() {
            // A new message while one was being assembled on this channel.
            out.push(HidEvent::Send(error_report(cid, err::INVALID_SEQ)));
            return;
        }
        if len > MAX_MESSAGE_LEN {
            out.push(HidEvent::Send(error_report(cid, err::INVALID_LEN)));
            return;
        }
        let first = data.get(..len.min(INIT_DATA)).unwrap_or_default();
        if first.len() == len {
            self.dispatch(cid, command, first.to_vec(), now, out);
        } else {
            let mut buf = Vec::with_capacity(len);
            buf.extend_from_slice(first);
            self.assembly = Some(Assembly {
                cid,
                cmd: command,
                total: len,
                data: buf,
                next_seq: 0,
                deadline: now + MSG_TIMEOUT,
            });
        }
    }

    fn init(&mut self, cid: u32, len: usize, data: &[u8], out: &mut Vec<HidEvent>) {
        if len != 8 {
            out.push(HidEvent::Send(error_report(cid, err::INVALID_LEN)));
            return;
        }
        let new_cid = if cid == BROADCAST_CID {
            let mut fresh = 0;
            while fresh == 0 || fresh == BROADCAST_CID || self.is_allocated(fresh) {
                fresh = self.rng.next_u32();
            }
            self.channels.push_back(fresh);
            while self.channels.len() > MAX_CHANNELS {
                self.channels.pop_front();
            }
            fresh
        } else if self.is_allocated(cid) {
            // Resynchronise: abandon whatever the channel was doing.
            if self.assembly.as_ref().is_some_and(|a| a.cid == cid) {
                self.assembly = None;
            }
            if self.busy == Some(cid) {
                self.busy = None;
                out.push(HidEvent::Cancel { cid });
            }
            cid
        } else {
            out.push(HidEvent::Send(error_report(cid, err::INVALID_CHANNEL)));
            return;
        };
        let mut payload = Vec::with_capacity(17);
        payload.extend_from_slice(data.get(..8).unwrap_or_default());
        payload.extend_from_slice(&new_cid.to_be_bytes());
        payload.push(2);
        payload.extend_from_slice(&self.version);
        payload.push(self.capabilities);
        out.extend(
            fragment(cid, cmd::INIT, &payload)
                .into_iter()
                .map(HidEvent::Send),
        );
    }

    fn cont_packet(
        &mut self,
        cid: u32,
        seq: u8,
        data: &[u8],
        now: Instant,
        out: &mut Vec<HidEvent>,
    ) {
        let Some(assembly) = self.assembly.as_mut() else {
            // A stray continuation packet is ignored (unless the channel is unknown).
            if cid != BROADCAST_CID && cid != 0 && !self.is_allocated(cid) {
                out.push(HidEvent::Send(error_report(cid, err::INVALID_CHANNEL)));
            }
            return;
        };
        if assembly.cid != cid {
            if self.is_allocated(cid) {
                out.push(HidEvent::Send(error_report(cid, err::CHANNEL_BUSY)));
            } else {
                out.push(HidEvent::Send(error_report(cid, err::INVALID_CHANNEL)));
            }
            return;
        }
        if seq != assembly.next_seq {
            self.assembly = None;
            out.push(HidEvent::Send(error_report(cid, err::INVALID_SEQ)));
            return;
        }
        let want = assembly
            .total
            .saturating_sub(assembly.data.len())
            .min(CONT_DATA);
        assembly
            .data
            .extend_from_slice(data.get(..want).unwrap_or_default());
        assembly.next_seq = assembly.next_seq.wrapping_add(1);
        if assembly.data.len() >= assembly.total
            && let Some(done) = self.assembly.take()
        {
            self.dispatch(done.cid, done.cmd, done.data, now, out);
        }
    }

    fn dispatch(
        &mut self,
        cid: u32,
        command: u8,
        payload: Vec<u8>,
        now: Instant,
        out: &mut Vec<HidEvent>,
    ) {
        match command {
            cmd::PING => {
                out.extend(
                    fragment(cid, cmd::PING, &payload)
                        .into_iter()
                        .map(HidEvent::Send),
                );
            }
            cmd::WINK => out.extend(
                fragment(cid, cmd::WINK, &[])
                    .into_iter()
                    .map(HidEvent::Send),
            ),
            cmd::LOCK => match payload.as_slice() {
                [secs] if *secs <= 10 => {
                    self.lock =
                        (*secs > 0).then(|| (cid, now + Duration::from_secs(u64::from(*secs))));
                    out.extend(
                        fragment(cid, cmd::LOCK, &[])
                            .into_iter()
                            .map(HidEvent::Send),
                    );
                }
                _ => out.push(HidEvent::Send(error_report(cid, err::INVALID_PAR))),
            },
            cmd::CBOR | cmd::MSG => {
                if payload.is_empty() {
                    out.push(HidEvent::Send(error_report(cid, err::INVALID_LEN)));
                    return;
                }
                self.busy = Some(cid);
                out.push(HidEvent::Request(Request {
                    cid,
                    cmd: command,
                    payload,
                }));
            }
            _ => out.push(HidEvent::Send(error_report(cid, err::INVALID_CMD))),
        }
    }

    /// Frames the response to the request on `cid` and ends the transaction.
    pub fn respond(&mut self, cid: u32, command: u8, payload: &[u8]) -> Vec<Report> {
        if self.busy == Some(cid) {
            self.busy = None;
        }
        if payload.len() > MAX_MESSAGE_LEN {
            return vec![error_report(cid, err::OTHER)];
        }
        fragment(cid, command, payload)
    }

    /// A KEEPALIVE report (status [`keepalive_status::PROCESSING`] or
    /// [`keepalive_status::UPNEEDED`]).
    pub fn keepalive(&self, cid: u32, status: u8) -> Report {
        let mut r = header(cid, cmd::KEEPALIVE, 1);
        if let Some(b) = r.get_mut(7) {
            *b = status;
        }
        r
    }

    /// An ERROR report; ends the transaction on `cid`.
    pub fn error(&mut self, cid: u32, code: u8) -> Report {
        if self.busy == Some(cid) {
            self.busy = None;
        }
        error_report(cid, code)
    }
}

fn header(cid: u32, command: u8, len: u16) -> Report {
    let mut r = [0u8; REPORT_LEN];
    let [a, b, c, d] = cid.to_be_bytes();
    let [h, l] = len.to_be_bytes();
    if let Some(dst) = r.get_mut(..7) {
        dst.copy_from_slice(&[a, b, c, d, command | 0x80, h, l]);
    }
    r
}

fn error_report(cid: u32, code: u8) -> Report {
    let mut r = header(cid, cmd::ERROR, 1);
    if let Some(b) = r.get_mut(7) {
        *b = code;
    }
    r
}

/// Splits a message into an initialization packet and continuation packets. Callers keep
/// `payload` within [`MAX_MESSAGE_LEN`].
pub fn fragment(cid: u32, command: u8, payload: &[u8]) -> Vec<Report> {
    let len = u16::try_from(payload.len()).unwrap_or(u16::MAX);
    let mut first = header(cid, command, len);
    let (head, mut rest) = payload.split_at(payload.len().min(INIT_DATA));
    if let Some(dst) = first.get_mut(7..7 + head.len()) {
        dst.copy_from_slice(head);
    }
    let mut out = vec![first];
    let mut seq = 0u8;
    while !rest.is_empty() && seq < 0x80 {
        let (chunk, tail) = rest.split_at(rest.len().min(CONT_DATA));
        let mut r = [0u8; REPORT_LEN];
        let [a, b, c, d] = cid.to_be_bytes();
        if let Some(dst) = r.get_mut(..5) {
            dst.copy_from_slice(&[a, b, c, d, seq]);
        }
        if let Some(dst) = r.get_mut(5..5 + chunk.len()) {
            dst.copy_from_slice(chunk);
        }
        out.push(r);
        rest = tail;
        seq = seq.wrapping_add(1);
    }
    out
}
