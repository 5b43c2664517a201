//! The bridge's "use my phone": a makeCredential/getAssertion that arrived at the virtual
//! security key is sent, prepared for phones ([`hybrid::forward::request_for_phone`]), through
//! the hybrid client; the QR code and the steps appear on this terminal, and the phone's reply
//! goes back to the browser unchanged.

use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use hybrid::io::driver::{ClientStep, DriveError};
use hybrid::qr::RequestHint;
use tokio::sync::Notify;

use super::client::{ClientOpts, Start, Steps, client_round, explain};
use crate::authenticator::hid_loop::Forwarder;

/// `CTAP1_ERR_OTHER`: the phone could not be reached at all (the reason is on the terminal).
const ERR_OTHER: ctap::StatusCode = ctap::StatusCode::OtherError;

/// How the bridge reaches phones.
#[derive(Debug, Clone, clap::Args)]
pub struct PhoneOpts {
    /// Send every tunnel to this relay, e.g. ws://127.0.0.1:8787 (default: the service the
    /// phone names).
    #[arg(long = "phone-relay", value_name = "URL")]
    relay: Option<String>,
    /// Where to listen for the phone's advert: `ble`, `ble:hci0` or `udp://127.0.0.1:PORT`.
    #[arg(long = "phone-air", value_name = "AIR")]
    air: Option<String>,
    /// Seconds to wait for the phone's advert, and for its answer.
    #[arg(long = "phone-timeout", default_value_t = 120, value_name = "SECS")]
    timeout: u64,
}

struct Running {
    id: u64,
    cancel: Arc<Notify>,
    done: mpsc::Receiver<Vec<u8>>,
}

/// What a forwarded ceremony reports as it goes.
#[derive(Debug)]
pub(crate) enum ForwardEvent {
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
    /// The ceremony failed: what happened and what to do.
    Failed(String),
}

/// Where forward events go (the terminal, or the window).
pub(crate) type ForwardReport = Arc<dyn Fn(ForwardEvent) + Send + Sync>;

/// How to reach the phone, read at the start of each forward (the window's settings may
/// change between requests).
pub(crate) type OptsSource = Arc<dyn Fn() -> ClientOpts + Send + Sync>;

/// Runs forwarded requests as hybrid ceremonies on a private runtime.
pub struct PhoneForwarder {
    runtime: tokio::runtime::Runtime,
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
    /// A forwarder that shows the QR code and steps on this terminal.
    ///
    /// # Errors
    /// The runtime could not start.
    pub fn new(opts: &PhoneOpts) -> std::io::Result<Self> {
        let opts = ClientOpts {
            relay: opts.relay.clone(),
            air: opts.air.clone(),
            timeout: opts.timeout,
            json: false,
            profile: None,
            profile_opts: crate::profile::cli::CommonOpts::default(),
        };
        let steps = Mutex::new(Steps::new("phone: "));
        let report: ForwardReport = Arc::new(move |event| match event {
            ForwardEvent::Started { .. } => {
                eprintln!("phone: a site asks to use a passkey on your phone");
                if let Ok(mut steps) = steps.lock() {
                    *steps = Steps::new("phone: ");
                }
            }
            ForwardEvent::Step(step) => {
                if let Ok(mut steps) = steps.lock() {
                    steps.on_step(step);
                }
            }
            ForwardEvent::Finished { .. } => {}
            ForwardEvent::Cancelled => eprintln!("phone: cancelled; the phone session ended"),
            ForwardEvent::Failed(message) => eprintln!("phone: {message}"),
        });
        Self::with(Arc::new(move || opts.clone()), report)
    }

    /// A forwarder that reads its options from `opts` and reports to `report`.
    ///
    /// # Errors
    /// The runtime could not start.
    pub(crate) fn with(opts: OptsSource, report: ForwardReport) -> std::io::Result<Self> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()?;
        Ok(Self {
            runtime,
            opts,
            report,
            running: None,
        })
    }
}

/// The status byte the browser gets when the ceremony failed, after the terminal said why.
fn failure_status(error: &DriveError) -> u8 {
    match error {
        DriveError::Session(hybrid::error::Error::Timeout(_)) => {
            ctap::StatusCode::UserActionTimeout.into()
        }
        // The person pressed Cancel (a cancel from the site itself is answered by the device).
        DriveError::Session(hybrid::error::Error::Cancelled) => {
            ctap::StatusCode::OperationDenied.into()
        }
        _ => ERR_OTHER.into(),
    }
}

impl Forwarder for PhoneForwarder {
    fn start(&mut self, id: u64, request: &[u8]) {
        let (tx, done) = mpsc::channel();
        let cancel = Arc::new(Notify::new());
        let prepared = hybrid::forward::request_for_phone(request);
        let hint = match request.first() {
            Some(0x01) => RequestHint::MakeCredential,
            _ => RequestHint::GetAssertion,
        };
        let opts = (self.opts)();
        let report = Arc::clone(&self.report);
        report(ForwardEvent::Started {
            cancel: Arc::clone(&cancel),
        });
        let cancelled = Arc::clone(&cancel);
        self.runtime.spawn(async move {
            let reply = match prepared {
                Err(error) => {
                    report(ForwardEvent::Failed(format!(
                        "cannot send this request to a phone: {error}"
                    )));
                    vec![ERR_OTHER.into()]
                }
                Ok(prepared) => {
                    let step_report = Arc::clone(&report);
                    let mut on_step = move |step: ClientStep| step_report(ForwardEvent::Step(step));
                    let cancel = cancelled.notified();
                    match client_round(&opts, Start::Qr, hint, &prepared, &mut on_step, cancel)
                        .await
                    {
                        Ok(outcome) => {
                            report(ForwardEvent::Finished {
                                request: prepared,
                                response: outcome.response.clone(),
                            });
                            outcome.response
                        }
                        Err(error) => {
                            report(match error {
                                DriveError::Session(hybrid::error::Error::Cancelled) => {
                                    ForwardEvent::Cancelled
                                }
                                _ => ForwardEvent::Failed(explain(&error, &opts)),
                            });
                            vec![failure_status(&error)]
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
