//! The `anquan` binary as the CLI tests run it: with none of the `ANQUAN_*` variables of the
//! environment the tests run in (a developer's store, actor, server or cluster must not leak
//! into them). Only for tests that require the `cli` feature (the binary must exist).
#![allow(dead_code)]

use std::process::{Command, Output};

/// The variables the binary reads.
const VARIABLES: [&str; 7] =
    ["ANQUAN_STORE", "ANQUAN_ACTOR", "ANQUAN_SERVER", "ANQUAN_TOKEN", "ANQUAN_CLUSTER", "ANQUAN_TENANT", "ANQUAN_NODE"];

/// The binary with a clean environment, to add arguments to.
pub fn command() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_anquan"));
    for v in VARIABLES {
        command.env_remove(v);
    }
    command
}

/// Runs the binary with `args` and waits for it.
pub fn anquan(args: &[&str]) -> Output {
    command().args(args).output().expect("run anquan")
}

/// Output bytes as text.
pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).to_string()
}
