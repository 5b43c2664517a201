//! Who answers the authenticator's "touch / verify" requests when it runs as a CLI process.

use std::io::{BufRead, Write};
use std::sync::mpsc::{self, Receiver, TryRecvError};

use ctap::{PromptOutcome, PromptReason, PromptRequest};

/// Answers prompts without blocking the transport loop (keepalives must keep flowing).
pub trait PromptSource {
    /// Called repeatedly while `request` is pending; `first` is true on the first call for a
    /// new request. Returns the answer once there is one.
    fn poll(&mut self, request: &PromptRequest, first: bool) -> Option<PromptOutcome>;
}

/// Grants user presence at once, never user verification: for automated tests only. Sign-in
/// picks the first matching account, as a user who always takes the top entry would.
#[derive(Debug, Default)]
pub struct AutoApproveForTesting;

impl PromptSource for AutoApproveForTesting {
    fn poll(&mut self, request: &PromptRequest, _first: bool) -> Option<PromptOutcome> {
        if request.need_uv {
            // Presence is all this source can vouch for; pretending to verify would be a lie
            // the relying party cannot detect.
            return Some(PromptOutcome::Denied);
        }
        Some(PromptOutcome::Approved {
            user_verified: false,
            chosen_credential: request.candidates.first().map(|c| c.credential_id.clone()),
        })
    }
}

/// Asks on the terminal: the request is described on stderr and answered with y/N on stdin.
#[derive(Debug)]
pub struct TerminalPrompt {
    answers: Receiver<String>,
}

impl TerminalPrompt {
    /// Starts a thread that forwards stdin lines.
    pub fn new() -> Self {
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let stdin = std::io::stdin();
            for line in stdin.lock().lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Self { answers: rx }
    }
}

impl Default for TerminalPrompt {
    fn default() -> Self {
        Self::new()
    }
}

impl PromptSource for TerminalPrompt {
    fn poll(&mut self, request: &PromptRequest, first: bool) -> Option<PromptOutcome> {
        if first {
            // Answers typed before this request belong to an earlier one.
            while self.answers.try_recv().is_ok() {}
            let mut err = std::io::stderr().lock();
            let _ = writeln!(err, "\n{}", describe(request));
            for (index, account) in request.candidates.iter().enumerate() {
                let name = account.user_name.as_deref().unwrap_or("(no name)");
                let _ = writeln!(err, "  [{}] {name}", index + 1);
            }
            let choice = if request.candidates.len() > 1 {
                " (or the account number)"
            } else {
                ""
            };
            let _ = write!(err, "Approve? [y/N]{choice} ");
            let _ = err.flush();
        }
        match self.answers.try_recv() {
            Ok(line) => Some(parse_answer(&line, request)),
            Err(TryRecvError::Empty) => None,
            // stdin closed: nobody can answer.
            Err(TryRecvError::Disconnected) => Some(PromptOutcome::Denied),
        }
    }
}

/// One plain sentence naming what is being asked and for which site.
pub fn describe(request: &PromptRequest) -> String {
    let site = request.rp_id.as_deref().unwrap_or("a site");
    let user = request.user_name.as_deref().unwrap_or("an account");
    match request.reason {
        PromptReason::Register => format!("{site} wants to create a passkey for {user}."),
        PromptReason::Excluded => {
            format!("{site}: this authenticator already has a passkey for {user}.")
        }
        PromptReason::SignIn => format!("{site} wants to sign you in with a passkey."),
        PromptReason::Reset => {
            "A program asks to erase every passkey and the PIN (factory reset).".into()
        }
        PromptReason::Selection => "A program asks you to confirm this authenticator.".into(),
        PromptReason::Verify => format!("{site} asks to verify it is you."),
        _ => "A program asks for your confirmation.".into(),
    }
}

fn parse_answer(line: &str, request: &PromptRequest) -> PromptOutcome {
    let answer = line.trim().to_ascii_lowercase();
    if let Ok(number) = answer.parse::<usize>()
        && let Some(account) = number
            .checked_sub(1)
            .and_then(|i| request.candidates.get(i))
    {
        return PromptOutcome::Approved {
            user_verified: false,
            chosen_credential: Some(account.credential_id.clone()),
        };
    }
    if answer == "y" || answer == "yes" {
        PromptOutcome::Approved {
            user_verified: false,
            chosen_credential: request.candidates.first().map(|c| c.credential_id.clone()),
        }
    } else {
        PromptOutcome::Denied
    }
}
