//! A site's request answered on a phone: a makeCredential/getAssertion that arrived at the
//! virtual security key is sent, prepared for phones ([`hybrid::forward::request_for_phone`]),
//! through the hybrid client, and the phone's reply goes back to the site unchanged. The
//! terminal bridge (`--phone`) and the window's "Use a phone instead" both run it; each shows
//! the QR code and the steps its own way ([`ForwardReport`]).

use std::sync::{Arc, mpsc};
use std::time::Duration;

use hybrid::io::driver::ClientStep;
use hybrid::qr::RequestHint;
use tokio::sync::Notify;

use super::ceremony::{self, CeremonyOptions, Start};
use super::failure::PhoneFailure;
use crate::authenticator::hid_loop::Forwarder;
use crate::system::Env;

/// `CTAP1_ERR_OTHER`: the phone could not be reached at all (the reason went to the report).
const ERR_OTHER: ctap::StatusCode = ctap::StatusCode::OtherError;

struct Running {
    id: u64,
    cancel: Arc<Notify>,
    done: mpsc::Receiver<Vec<u8>>,
}

/// What a forwarded ceremony reports as it goes.
#[derive(Debug)]
pub enum ForwardEvent {
    /// A site's request is on its way to the phone; `cancel` ends the ceremony (the person
    /// pressed Cancel).
    Started {
        /// Wakes the ceremony's cancel.
        cancel: Arc<Notify>,
    },
    /// A step of the hybrid ceremony.
    Step(ClientStep),
    /// The phone answered; its reply goes to the site.
    Finished {
        /// The request as the phone got it (command byte, then CBOR).
        request: Vec<u8>,
        /// The phone's reply (status byte, then CBOR).
        response: Vec<u8>,
    },
    /// The person (or the site) cancelled.
    Cancelled,
    /// The ceremony failed.
    Failed(PhoneFailure),
}

/// Where forward events go (the terminal, or the window), with the forward's ID: a cancelled
/// ceremony may still be saying goodbye when the next forward starts, so its late events must
/// not be taken for the new one's.
pub type ForwardReport = Arc<dyn Fn(u64, ForwardEvent) + Send + Sync>;

/// How to reach the phone, read at the start of each forward (the window's settings may
/// change between requests).
pub type OptsSource = Arc<dyn Fn() -> CeremonyOptions + Send + Sync>;

/// Runs forwarded requests as hybrid ceremonies on a private runtime.
pub struct PhoneForwarder {
    runtime: tokio::runtime::Runtime,
    env: Env,
    opts: OptsSource,
    report: ForwardReport,
    running: Option<Running>,
}

impl core::fmt::Debug for PhoneForwarder {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("PhoneForwarder")
            .field("running", &self.running.as_ref().map(|r| r.id))
            .finish_non_exhaustive()
    }
}

impl PhoneForwarder {
    /// A forwarder that reads its options from `opts` and reports to `report`.
    ///
    /// # Errors
    /// The runtime could not start.
    pub fn new(env: Env, opts: OptsSource, report: ForwardReport) -> std::io::Result<Self> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()?;
        Ok(Self {
            runtime,
            env,
            opts,
            report,
            running: None,
        })
    }
}

/// The status byte the site gets when the ceremony failed, after the report said why.
fn failure_status(failure: &PhoneFailure) -> u8 {
    match failure {
        PhoneFailure::NoAdvert { .. }
        | PhoneFailure::Timeout { .. }
        | PhoneFailure::RelayTimeout { .. }
        | PhoneFailure::HandshakeStalled => ctap::StatusCode::UserActionTimeout.into(),
        // The person pressed Cancel (a cancel from the site itself is answered by the device).
        PhoneFailure::Cancelled => ctap::StatusCode::OperationDenied.into(),
        _ => ERR_OTHER.into(),
    }
}

impl Forwarder for PhoneForwarder {
    fn start(&mut self, id: u64, request: &[u8]) {
        let (tx, done) = mpsc::channel();
        let cancel = Arc::new(Notify::new());
        let prepared = hybrid::forward::request_for_phone(request);
        let hint = RequestHint::for_ctap_command(request.first().copied().unwrap_or_default());
        let opts = (self.opts)();
        let env = self.env.clone();
        let report = Arc::clone(&self.report);
        report(
            id,
            ForwardEvent::Started {
                cancel: Arc::clone(&cancel),
            },
        );
        let cancelled = Arc::clone(&cancel);
        self.runtime.spawn(async move {
            let reply = match prepared {
                Err(error) => {
                    report(
                        id,
                        ForwardEvent::Failed(PhoneFailure::NotForwardable(error)),
                    );
                    vec![ERR_OTHER.into()]
                }
                Ok(prepared) => {
                    let step_report = Arc::clone(&report);
                    let mut on_step =
                        move |step: ClientStep| step_report(id, ForwardEvent::Step(step));
                    let cancel = cancelled.notified();
                    let round = ceremony::run(
                        &opts,
                        &env,
                        Start::Qr,
                        hint,
                        &prepared,
                        &mut on_step,
                        cancel,
                    );
                    match round.await {
                        Ok(outcome) => {
                            report(
                                id,
                                ForwardEvent::Finished {
                                    request: prepared,
                                    response: outcome.response.clone(),
                                },
                            );
                            outcome.response
                        }
                        Err(failure) => {
                            let status = failure_status(&failure);
                            report(
                                id,
                                match failure {
                                    PhoneFailure::Cancelled => ForwardEvent::Cancelled,
                                    failure => ForwardEvent::Failed(failure),
                                },
                            );
                            vec![status]
                        }
                    }
                }
            };
            let _ = tx.send(reply);
        });
        self.running = Some(Running { id, cancel, done });
    }

    fn current(&self) -> Option<u64> {
        self.running.as_ref().map(|r| r.id)
    }

    fn poll(&mut self) -> Option<(u64, Vec<u8>)> {
        let running = self.running.as_ref()?;
        match running.done.try_recv() {
            Ok(reply) => {
                let id = running.id;
                self.running = None;
                Some((id, reply))
            }
            Err(mpsc::TryRecvError::Empty) => None,
            Err(mpsc::TryRecvError::Disconnected) => {
                let id = running.id;
                self.running = None;
                Some((id, vec![ERR_OTHER.into()]))
            }
        }
    }

    fn cancel(&mut self) {
        if let Some(running) = self.running.take() {
            tracing::info!("the site cancelled the request; ending the phone session");
            // notify_one keeps a permit, so a cancel before the ceremony waits still counts.
            running.cancel.notify_one();
            // Let the session say goodbye to the relay; it is bounded by the driver itself.
            let _ = running.done.recv_timeout(Duration::from_millis(500));
        }
    }
}
