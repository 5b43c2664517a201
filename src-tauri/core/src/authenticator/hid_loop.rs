//! The one CTAPHID serving loop shared by every transport (UDP for test clients, uhid for
//! browsers): move 64-byte reports between a [`ReportPipe`] and the sans-IO
//! [`ctap::device::HidDevice`], keep keepalives flowing while a prompt is open, and ask the
//! [`PromptSource`] without blocking.

use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use ctap::device::HidDevice;
use ctap::{Clock, CredentialStore};

use super::prompt::PromptSource;
use crate::system::{Env, SharedClock, SharedRng};

/// Longest the loop sleeps without a deadline, so a stop request is noticed promptly.
const IDLE_TICK: Duration = Duration::from_millis(100);

/// A duplex channel of 64-byte HID reports.
pub trait ReportPipe {
    /// The next OUT report, waiting at most `timeout`; `Ok(None)` when none came in time.
    ///
    /// # Errors
    /// The transport failed and cannot continue.
    fn recv(&mut self, timeout: Duration) -> io::Result<Option<[u8; 64]>>;

    /// Sends one IN report.
    ///
    /// # Errors
    /// The transport failed and cannot continue.
    fn send(&mut self, report: &[u8; 64]) -> io::Result<()>;

    /// Whether the simulation's reboot datagram may power-cycle the device on this pipe: only
    /// on a test transport ([`HidDevice::allow_simulation_reboot`]).
    fn simulation_reboot(&self) -> bool {
        false
    }

    /// Whether the key may answer now: false while its owner's login session is not the
    /// active one on the seat ([`super::seat`]). The UDP test transport always may.
    fn owner_active(&mut self) -> bool {
        true
    }
}

/// Answers forwarded requests ([`ctap::device::Forward`]) elsewhere, without blocking the
/// loop: the bridge's phone path.
pub trait Forwarder {
    /// Starts answering forward `id` (the request: command byte, then CBOR).
    fn start(&mut self, id: u64, request: &[u8]);
    /// The forward being answered, if any.
    fn current(&self) -> Option<u64>;
    /// The reply (status byte, then CBOR), once there is one.
    fn poll(&mut self) -> Option<(u64, Vec<u8>)>;
    /// Abandons the running forward (the client cancelled or gave up).
    fn cancel(&mut self);
}

/// The engine type every transport serves.
pub type Device<S> = HidDevice<S, SharedClock, SharedRng, SharedRng>;

/// The authenticator on `store` with `config`, as a CTAPHID device on `env`'s clock and RNG.
///
/// # Errors
/// The store failed to load the authenticator's state.
pub fn device<S: CredentialStore>(
    store: S,
    config: ctap::Config,
    env: &Env,
) -> Result<Device<S>, ctap::StoreError> {
    let engine = ctap::Authenticator::new(store, env.clock.clone(), env.rng.clone(), config)?;
    Ok(HidDevice::new(engine, env.rng.clone()))
}

/// Serves `device` over `pipe` until `stop` is set or the pipe fails. `forwarder` answers the
/// device's forwards: every makeCredential/getAssertion when the caller turned forwarding on
/// ([`HidDevice::set_forwarding`](ctap::device::HidDevice::set_forwarding)), otherwise those
/// the user sends to the phone from a prompt ([`ctap::PromptOutcome::Forward`]).
///
/// # Errors
/// The pipe's error.
pub fn serve<S: CredentialStore>(
    device: &mut Device<S>,
    pipe: &mut dyn ReportPipe,
    prompt: &mut dyn PromptSource,
    mut forwarder: Option<&mut dyn Forwarder>,
    stop: &Arc<AtomicBool>,
) -> io::Result<()> {
    let clock = device.authenticator().clock().clone();
    device.allow_simulation_reboot(pipe.simulation_reboot());
    let mut prompt_shown = false;
    while !stop.load(Ordering::Relaxed) {
        let now = clock.now();
        for reply in device.set_refusing(!pipe.owner_active(), now) {
            pipe.send(&reply)?;
        }
        let wait = device
            .next_deadline()
            .map_or(IDLE_TICK, |deadline| {
                deadline.saturating_duration_since(now)
            })
            .clamp(Duration::from_millis(1), IDLE_TICK);
        if let Some(report) = pipe.recv(wait)? {
            for reply in device.handle_report(&report, clock.now()) {
                pipe.send(&reply)?;
            }
        }
        for reply in device.poll(clock.now()) {
            pipe.send(&reply)?;
        }

        if let Some(forwarder) = forwarder.as_deref_mut() {
            let wanted = device.forward().map(|f| f.id);
            if forwarder.current().is_some() && forwarder.current() != wanted {
                // The client cancelled, or the device gave up waiting.
                forwarder.cancel();
            }
            if let Some(forward) = device.forward()
                && forwarder.current().is_none()
            {
                forwarder.start(forward.id, &forward.request);
            }
            if let Some((id, reply)) = forwarder.poll() {
                for report in device.resolve_forward(id, &reply) {
                    pipe.send(&report)?;
                }
            }
        }

        let outcome = match device.prompt() {
            Some(request) => {
                let first = !prompt_shown;
                prompt_shown = true;
                prompt.poll(request, first)
            }
            None => {
                if prompt_shown {
                    prompt.withdrawn();
                }
                prompt_shown = false;
                None
            }
        };
        if let Some(outcome) = outcome {
            prompt_shown = false;
            for reply in device.resolve_prompt(outcome, clock.now()) {
                pipe.send(&reply)?;
            }
            prompt.resolved();
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;
    use std::sync::Mutex;

    use ctap::ctaphid::{BROADCAST_CID, cmd, fragment};

    use super::*;
    use crate::authenticator::prompt::AutoApproveForTesting;
    use crate::testing::{self, ManualClock};

    /// Reports in from a queue, out to a list; whose turn it is, from a flag.
    struct Scripted {
        incoming: Arc<Mutex<VecDeque<[u8; 64]>>>,
        sent: Arc<Mutex<Vec<[u8; 64]>>>,
        active: Arc<AtomicBool>,
    }

    impl ReportPipe for Scripted {
        fn recv(&mut self, _: Duration) -> io::Result<Option<[u8; 64]>> {
            let next = self.incoming.lock().unwrap().pop_front();
            if next.is_none() {
                std::thread::sleep(Duration::from_millis(1));
            }
            Ok(next)
        }
        fn send(&mut self, report: &[u8; 64]) -> io::Result<()> {
            self.sent.lock().unwrap().push(*report);
            Ok(())
        }
        fn owner_active(&mut self) -> bool {
            self.active.load(Ordering::SeqCst)
        }
    }

    /// The serving loop asks the pipe whose turn it is on every turn: while the owner's
    /// session is not the active one, the key answers NOT_ALLOWED to everything.
    #[test]
    fn the_loop_refuses_while_the_owner_is_not_at_the_seat() {
        let env = testing::env(&ManualClock::new(), 3);
        let mut device = device(ctap::MemoryStore::new(), ctap::Config::default(), &env).unwrap();
        let incoming = Arc::new(Mutex::new(VecDeque::new()));
        let sent = Arc::new(Mutex::new(Vec::new()));
        let active = Arc::new(AtomicBool::new(false));
        let stop = Arc::new(AtomicBool::new(false));
        let mut pipe = Scripted {
            incoming: Arc::clone(&incoming),
            sent: Arc::clone(&sent),
            active: Arc::clone(&active),
        };
        let serving = {
            let stop = Arc::clone(&stop);
            std::thread::spawn(move || {
                serve(
                    &mut device,
                    &mut pipe,
                    &mut AutoApproveForTesting,
                    None,
                    &stop,
                )
                .unwrap();
            })
        };
        // The answer to one message: its first report's payload.
        let ask = |cid: u32, command: u8, payload: &[u8]| -> [u8; 64] {
            let before = sent.lock().unwrap().len();
            incoming
                .lock()
                .unwrap()
                .extend(fragment(cid, command, payload));
            for _ in 0..2000 {
                if let Some(reply) = sent.lock().unwrap().get(before) {
                    return *reply;
                }
                std::thread::sleep(Duration::from_millis(1));
            }
            panic!("no answer");
        };
        let init = ask(BROADCAST_CID, cmd::INIT, &[1; 8]);
        let cid = u32::from_be_bytes(init[15..19].try_into().unwrap());
        let refused = ask(cid, cmd::CBOR, &[0x04]);
        assert_eq!(
            refused[7],
            u8::from(ctap::StatusCode::NotAllowed),
            "getInfo answered for another user"
        );
        active.store(true, Ordering::SeqCst);
        let info = ask(cid, cmd::CBOR, &[0x04]);
        assert_eq!(info[7], 0, "getInfo refused for the owner");
        stop.store(true, Ordering::SeqCst);
        serving.join().unwrap();
    }
}
