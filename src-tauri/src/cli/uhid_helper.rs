//! `passbridge uhid-helper`: the privileged half of the bridge (the core's
//! `authenticator::uhid_helper`). systemd starts one per connection to
//! `/run/passbridge-uhid.sock` (`passbridge-uhid.socket`, `Accept=yes`), with the connection as
//! stdin; `--listen` serves a socket itself (the VM test, where no systemd runs).

use std::os::fd::AsFd;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use passbridge_core::authenticator::uhid_helper::{peer_uid, serve_client};

use super::fail;

/// `passbridge uhid-helper`.
#[derive(Debug, clap::Args)]
pub(super) struct UhidHelperArgs {
    /// Listen on this socket (mode 0666) instead of serving the connection systemd passes as
    /// stdin.
    #[arg(long, value_name = "SOCKET")]
    listen: Option<PathBuf>,
    /// The uhid device.
    #[arg(long, default_value = "/dev/uhid", hide = true)]
    uhid: PathBuf,
}

/// Serves one connection: the key for its user, until it hangs up.
fn serve(connection: UnixStream, uhid: &Path) -> Result<(), String> {
    let uid = peer_uid(&connection).map_err(|e| format!("no peer credentials: {e}"))?;
    let writer = connection.try_clone().map_err(|e| e.to_string())?;
    serve_client(connection, writer, uid, uhid).map_err(|e| e.to_string())
}

/// Runs `passbridge uhid-helper`.
pub(super) fn run(args: &UhidHelperArgs) -> ExitCode {
    let Some(path) = &args.listen else {
        // systemd's StandardInput=socket: the connection is file descriptor 0.
        let connection = match std::io::stdin().as_fd().try_clone_to_owned() {
            Ok(fd) => UnixStream::from(fd),
            Err(error) => return fail(&format!("stdin is not a connection: {error}")),
        };
        return match serve(connection, &args.uhid) {
            Ok(()) => ExitCode::SUCCESS,
            Err(message) => fail(&message),
        };
    };
    let _ = std::fs::remove_file(path);
    let listener = match UnixListener::bind(path) {
        Ok(listener) => listener,
        Err(error) => return fail(&format!("cannot listen on {}: {error}", path.display())),
    };
    {
        use std::os::unix::fs::PermissionsExt;
        if let Err(error) = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o666)) {
            return fail(&format!("cannot open {} to users: {error}", path.display()));
        }
    }
    eprintln!("uhid helper: listening on {}", path.display());
    for connection in listener.incoming() {
        let Ok(connection) = connection else { continue };
        let uhid = args.uhid.clone();
        std::thread::spawn(move || {
            if let Err(message) = serve(connection, &uhid) {
                eprintln!("uhid helper: {message}");
            }
        });
    }
    ExitCode::SUCCESS
}
