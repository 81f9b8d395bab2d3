//! The `iras` binary as a newcomer uses it: `demo`, `eval`, and the client commands against a
//! running `iras serve`.

use std::process::Command;

use crate::restart::{free_port, open_incident, Server};

fn iras(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_iras"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("RUST_LOG", "error")
        .output()
        .expect("iras runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn the_demo_runs_an_incident_from_alert_to_postmortem() {
    let (ok, out, err) = iras(&["demo"]);
    assert!(ok, "{err}");
    for needle in [
        "▶ Incident ingested",
        "Triaged as",
        "Evidence gathered",
        "Root cause (deployment)",
        "Plan by",
        "Approval requested",
        "Approved by",
        "Step 1 applied",
        "# Post-mortem:",
        "ended resolved",
    ] {
        assert!(
            out.contains(needle),
            "{needle:?} missing from the demo output:\n{out}"
        );
    }
}

#[test]
fn the_demo_can_reject_or_let_the_deadline_pass() {
    let (ok, out, err) = iras(&["demo", "--reject"]);
    assert!(ok, "{err}");
    assert!(
        out.contains("Rejected by") && out.contains("ended escalated"),
        "{out}"
    );
    let (ok, out, err) = iras(&["demo", "--scenario", "payments-cert-expired", "--timeout"]);
    assert!(ok, "{err}");
    assert!(
        out.contains("No decision before the approval deadline") && out.contains("ended escalated"),
        "{out}"
    );
}

#[test]
fn the_demo_names_a_missing_scenario() {
    let (ok, _, err) = iras(&["demo", "--scenario", "no-such-scenario"]);
    assert!(!ok);
    assert!(err.contains("no-such-scenario"), "{err}");
}

#[test]
fn eval_prints_a_row_per_scenario_and_the_root_cause_score_last() {
    let (ok, out, err) = iras(&["eval", "tests/fixtures/scenarios"]);
    assert!(ok, "{err}");
    let scenarios = std::fs::read_dir(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/scenarios"
    ))
    .unwrap()
    .filter(|e| e.as_ref().unwrap().path().join("scenario.json").is_file())
    .count();
    let last = out.lines().last().unwrap_or_default();
    let (n, m) = last
        .strip_prefix("root cause: ")
        .and_then(|r| r.strip_suffix(" correct"))
        .and_then(|r| r.split_once('/'))
        .unwrap_or_else(|| panic!("last line is {last:?}"));
    assert_eq!(m.parse::<usize>().unwrap(), scenarios);
    assert!(n.parse::<usize>().unwrap() <= scenarios);
    assert_eq!(
        out.lines().count(),
        scenarios + 2,
        "header, one row each, score:\n{out}"
    );
    assert!(out.contains("checkout-bad-deploy"));
}

#[tokio::test]
async fn the_client_commands_list_show_and_decide_on_a_running_server() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let server = Server::start(dir.path(), port, &[]).await;
    let id = open_incident(&server).await;
    server.wait_status(&id, "awaiting_approval").await;
    let base = server.base.clone();
    let (list, show, approve, again) = tokio::task::spawn_blocking(move || {
        (
            iras(&["incidents", "--server", &base]),
            iras(&["show", &id, "--server", &base]),
            iras(&["approve", &id, "--server", &base, "--approver", "dave"]),
            iras(&["reject", &id, "--server", &base]),
        )
    })
    .await
    .unwrap();
    assert!(list.0 && list.1.contains("awaiting_approval"), "{list:?}");
    assert!(show.0 && show.1.contains("\"root_cause\""), "{show:?}");
    assert!(approve.0 && approve.1.contains("dave"), "{approve:?}");
    assert!(
        !again.0 && again.2.contains("409"),
        "a second decision is refused: {again:?}"
    );
}
