//! The `anquan` binary: the README's main job and the inspection commands, including bad input.

use std::process::Command;

fn anquan(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_anquan")).args(args).env_remove("ANQUAN_STORE").output().unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).to_string()
}

#[test]
fn demo_then_inspect_then_verify() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let s = store.to_str().unwrap();
    let out = anquan(&["demo", "--store", s, "--hazards", "40"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("hash chain intact"), "{stdout}");
    assert!(stdout.contains("hazard.reported"), "{stdout}");

    let head = anquan(&["head", "--store", s]);
    assert!(head.status.success());
    let head_out = text(&head.stdout);
    let verify = anquan(&["verify", "--store", s]);
    assert!(verify.status.success(), "{}", text(&verify.stderr));
    // The head hash verify recomputes is the one `head` reports.
    let hash = head_out.lines().find_map(|l| l.strip_prefix("head hash ")).unwrap().trim().to_string();
    assert!(text(&verify.stdout).contains(&hash));

    let streams = anquan(&["streams", "--store", s, "--prefix", "hazard-", "--limit", "5"]);
    let listed = text(&streams.stdout);
    assert_eq!(listed.lines().count(), 5, "{listed}");
    let first = listed.split_whitespace().next().unwrap().to_string();
    let history = anquan(&["history", &first, "--store", s]);
    assert!(history.status.success());
    assert!(text(&history.stdout).contains("\"type\":\"hazard.reported\""), "{}", text(&history.stdout));

    // A second demo run appends to the same store and still verifies.
    assert!(anquan(&["demo", "--store", s, "--hazards", "8"]).status.success());
    assert!(anquan(&["verify", "--store", s]).status.success());
}

#[test]
fn bad_input_is_one_clear_sentence_and_a_failing_exit_code() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nowhere");
    let out = anquan(&["verify", "--store", missing.to_str().unwrap()]);
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(err.starts_with("error: ") && err.contains("holds no anquan store"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "no backtrace: {err}");
    assert!(!missing.exists(), "inspecting must not create a store");

    let store = dir.path().join("s");
    assert!(anquan(&["demo", "--store", store.to_str().unwrap(), "--hazards", "4"]).status.success());
    let out = anquan(&["history", "hazard-does-not-exist", "--store", store.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("has no events"));
    let out = anquan(&["history", "../etc/passwd", "--store", store.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("stream id"), "{}", text(&out.stderr));
}
