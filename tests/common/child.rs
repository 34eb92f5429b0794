//! Tests that run their own binary again as a child process (crash and full-disk tests): the
//! child is one test of the file that does its work only when an environment variable names the
//! store folder, and otherwise returns at once.

use std::path::Path;
use std::process::Command;

/// This test binary again, running only the test `entry` (one thread, output shown), with `env`
/// set to `dir`: the child's test finds its folder there.
pub fn child(entry: &str, env: &str, dir: &Path) -> Command {
    let mut command = Command::new(std::env::current_exe().expect("the test binary's path"));
    command.args(["--exact", entry, "--nocapture", "--test-threads", "1"]).env(env, dir);
    command
}

/// Limits the size of any file this process writes to `bytes` (`RLIMIT_FSIZE`) and ignores
/// SIGXFSZ, so a write past the limit fails with EFBIG, as on a full disk, instead of killing
/// the process.
pub fn limit_file_size(bytes: u64) {
    // SAFETY: plain syscalls on this process; ignoring SIGXFSZ turns the limit into EFBIG errors.
    unsafe {
        libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
        let limit = libc::rlimit { rlim_cur: bytes, rlim_max: libc::RLIM_INFINITY };
        assert_eq!(libc::setrlimit(libc::RLIMIT_FSIZE, &limit), 0);
    }
}
