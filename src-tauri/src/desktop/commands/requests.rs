//! The request dialog: the request waiting, and the person's answer.

use passbridge_core::app::types::RequestView;

use super::super::args::{Args, RequestAnswerArgs};
use super::super::error::IpcResult;
use super::{Core, blocking};

/// The request waiting for an answer, if any.
#[tauri::command]
pub fn request_current(core: Core<'_>) -> Option<RequestView> {
    core.current_request()
}

/// Answers the request dialog.
#[tauri::command]
pub async fn request_answer(core: Core<'_>, args: Args<RequestAnswerArgs>) -> IpcResult<()> {
    let Args(RequestAnswerArgs { answer }) = args;
    blocking(&core, move |core| core.answer_request(answer)).await
}
