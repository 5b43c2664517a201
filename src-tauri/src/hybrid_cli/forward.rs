//! The bridge's "use my phone": a makeCredential/getAssertion that arrived at the virtual
//! security key is sent, prepared for phones ([`hybrid::forward::request_for_phone`]), through
//! the hybrid client; the QR code and the steps appear on this terminal, and the phone's reply
//! goes back to the browser unchanged.

use std::sync::mpsc;
use std::time::Duration;

use hybrid::io::driver::{ClientStep, DriveError};
use hybrid::qr::RequestHint;

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
    cancel: Option<tokio::sync::oneshot::Sender<()>>,
    done: mpsc::Receiver<Vec<u8>>,
}

/// Runs forwarded requests as hybrid ceremonies on a private runtime.
pub struct PhoneForwarder {
    runtime: tokio::runtime::Runtime,
    opts: ClientOpts,
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
    /// A forwarder with its own async runtime.
    ///
    /// # Errors
    /// The runtime could not start.
    pub fn new(opts: &PhoneOpts) -> std::io::Result<Self> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()?;
        Ok(Self {
            runtime,
            opts: ClientOpts {
                relay: opts.relay.clone(),
                air: opts.air.clone(),
                timeout: opts.timeout,
                json: false,
                profile: None,
                profile_opts: crate::profile::cli::CommonOpts::default(),
            },
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
        DriveError::Session(hybrid::error::Error::Cancelled) => {
            ctap::StatusCode::KeepaliveCancel.into()
        }
        _ => ERR_OTHER.into(),
    }
}

impl Forwarder for PhoneForwarder {
    fn start(&mut self, id: u64, request: &[u8]) {
        let (tx, done) = mpsc::channel();
        let (cancel_tx, cancel_rx) = tokio::sync::oneshot::channel::<()>();
        let prepared = hybrid::forward::request_for_phone(request);
        let hint = match request.first() {
            Some(0x01) => RequestHint::MakeCredential,
            _ => RequestHint::GetAssertion,
        };
        let opts = self.opts.clone();
        self.runtime.spawn(async move {
            let reply = match prepared {
                Err(error) => {
                    eprintln!("phone: cannot send this request to a phone: {error}");
                    vec![ERR_OTHER.into()]
                }
                Ok(prepared) => {
                    eprintln!("phone: a site asks to use a passkey on your phone");
                    let mut steps = Steps::new("phone: ");
                    let mut on_step = |step: ClientStep| steps.on_step(step);
                    let cancel = async {
                        let _ = cancel_rx.await;
                    };
                    match client_round(&opts, Start::Qr, hint, &prepared, &mut on_step, cancel)
                        .await
                    {
                        Ok(outcome) => outcome.response,
                        Err(error) => {
                            eprintln!("phone: {}", explain(&error, &opts));
                            vec![failure_status(&error)]
                        }
                    }
                }
            };
            let _ = tx.send(reply);
        });
        self.running = Some(Running {
            id,
            cancel: Some(cancel_tx),
            done,
        });
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
        if let Some(mut running) = self.running.take() {
            eprintln!("phone: the site cancelled the request; ending the phone session");
            if let Some(cancel) = running.cancel.take() {
                let _ = cancel.send(());
            }
            // Let the session say goodbye to the relay; it is bounded by the driver itself.
            let _ = running.done.recv_timeout(Duration::from_millis(500));
        }
    }
}
