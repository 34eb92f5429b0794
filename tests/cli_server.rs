//! Analysts while a service holds the store: the query commands ask `anquan serve` over HTTP
//! (`--server URL --token T`) and print exactly what they print from the store folder.

mod cli_common;

use cli_common::{anquan, text};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

/// A server process, killed when dropped.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn query_commands_answer_the_same_through_a_running_service() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("s");
    let s = store.to_str().unwrap();
    assert!(anquan(&["demo", "--store", s, "--scale", "0.02", "--lang", "en"]).status.success());
    let token = text(&anquan(&["token", "--for", "auditor-1", "--read-only", "--store", s]).stdout).trim().to_string();
    let queries: [&[&str]; 6] = [
        &["stats", "--by", "community", "--lang", "en"],
        &["stats", "--on", "2026-05-31", "--as-of", "2026-11-30", "--format", "csv"],
        &["hazards", "--overdue", "--lang", "zh"],
        &["incidents", "--open", "--format", "csv"],
        &["streaks", "--years", "2"],
        &["kpis", "--year", "2025"],
    ];
    let local: Vec<String> = queries
        .iter()
        .map(|q| {
            let mut args = q.to_vec();
            args.extend(["--store", s]);
            let out = anquan(&args);
            assert!(out.status.success(), "{q:?}: {}", text(&out.stderr));
            text(&out.stdout)
        })
        .collect();

    let mut child = Command::new(env!("CARGO_BIN_EXE_anquan"))
        .args(["serve", "--store", s, "--listen", "127.0.0.1:0"])
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let server = Server(child);
    let mut first = String::new();
    BufReader::new(stderr).read_line(&mut first).unwrap();
    let url =
        first.split_whitespace().find(|w| w.starts_with("http://")).unwrap_or_else(|| panic!("{first}")).to_string();

    // The folder is locked by the service: the local way fails, the remote way answers the same.
    let out = anquan(&["stats", "--store", s]);
    assert!(!out.status.success());
    for (q, expected) in queries.iter().zip(&local) {
        let mut args = q.to_vec();
        args.extend(["--server", &url, "--token", &token]);
        let out = anquan(&args);
        assert!(out.status.success(), "{q:?}: {}", text(&out.stderr));
        assert_eq!(&text(&out.stdout), expected, "{q:?}");
    }
    // A wrong token is refused, in one sentence.
    let out = anquan(&["stats", "--server", &url, "--token", "aq_wrong"]);
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("401"), "{}", text(&out.stderr));
    drop(server);
}
