//! The terminal's prompt: the request is described on stderr and answered with y/N (or an
//! account's number) on stdin.

use std::io::{BufRead, Write};
use std::sync::mpsc::{self, Receiver, TryRecvError};

use ctap::{PromptOutcome, PromptRequest};
use passbridge_core::authenticator::prompt::{PromptSource, describe, presence_only};

/// Asks on the terminal: the request is described on stderr and answered with y/N on stdin.
#[derive(Debug)]
pub(super) struct TerminalPrompt {
    answers: Receiver<String>,
}

impl TerminalPrompt {
    /// Starts a thread that forwards stdin lines.
    pub(super) fn new() -> Self {
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
        presence_only(request)
    } else {
        PromptOutcome::Denied
    }
}
