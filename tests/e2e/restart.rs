//! Durability: `iras serve` killed with SIGKILL while an incident waits for approval resumes it
//! after a restart, and fires a deadline that passed while it was down.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

/// A running `iras serve`, killed with SIGKILL when dropped.
pub(crate) struct Server {
    child: Child,
    pub(crate) base: String,
}

impl Server {
    pub(crate) async fn start(dir: &Path, port: u16, envs: &[(&str, &str)]) -> Self {
        let scenario = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/scenarios/checkout-bad-deploy"
        );
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_iras"));
        cmd.args([
            "serve",
            "--addr",
            &format!("127.0.0.1:{port}"),
            "--data-dir",
        ])
        .arg(dir)
        .args(["--simulate", scenario])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
        for (k, v) in envs {
            cmd.env(k, v);
        }
        let child = cmd.spawn().expect("iras starts");
        let server = Self {
            child,
            base: format!("http://127.0.0.1:{port}"),
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if reqwest::get(format!("{}/healthz", server.base))
                .await
                .is_ok_and(|r| r.status().is_success())
            {
                return server;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("iras serve did not come up on port {port}");
    }

    fn kill9(mut self) {
        // Child::kill sends SIGKILL on Unix: no graceful shutdown, nothing flushed on purpose.
        self.child.kill().expect("kill");
        self.child.wait().expect("reaped");
    }

    async fn get(&self, path: &str) -> Value {
        reqwest::get(format!("{}{path}", self.base))
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    pub(crate) async fn wait_status(&self, id: &str, want: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let v = self.get(&format!("/incidents/{id}")).await;
            if v["status"] == want {
                return v;
            }
            assert!(
                Instant::now() < deadline,
                "incident never became {want}: {v}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub(crate) async fn open_incident(server: &Server) -> String {
    let alert = json!({"title": "High error rate on checkout", "service": "checkout-api",
        "severity": "critical", "timestamp": "2026-03-17T14:12:41Z"});
    let res = reqwest::Client::new()
        .post(format!("{}/webhook/alert", server.base))
        .json(&alert)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 202);
    let body: Value = res.json().await.unwrap();
    body["incident_id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn an_approval_after_a_kill_and_restart_resumes_the_workflow() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let server = Server::start(dir.path(), port, &[]).await;
    let id = open_incident(&server).await;
    server.wait_status(&id, "awaiting_approval").await;
    server.kill9();

    let server = Server::start(dir.path(), port, &[]).await;
    let res = reqwest::Client::new()
        .post(format!("{}/incidents/{id}/approve", server.base))
        .json(&json!({"approver": "carol"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    let v = server.wait_status(&id, "resolved").await;
    assert_eq!(v["decision"]["by"], "carol");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let res = reqwest::get(format!("{}/incidents/{id}/postmortem", server.base))
            .await
            .unwrap();
        if res.status() == 200 {
            let pm: Value = res.json().await.unwrap();
            let applied = pm["timeline"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|e| e["kind"] == "step_applied")
                .count();
            assert!(applied >= 1);
            let requested = pm["timeline"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|e| e["kind"] == "approval_requested")
                .count();
            assert_eq!(requested, 1, "the restart did not ask twice");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no post-mortem after the restart"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_deadline_that_passed_while_down_fires_on_start() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let envs = [
        ("IRAS_APPROVAL_TIMEOUT_SECS", "2"),
        ("IRAS_APPROVAL_TIMEOUT_P0_SECS", "2"),
    ];
    let server = Server::start(dir.path(), port, &envs).await;
    let id = open_incident(&server).await;
    server.wait_status(&id, "awaiting_approval").await;
    server.kill9();
    tokio::time::sleep(Duration::from_secs(3)).await;

    let server = Server::start(dir.path(), port, &envs).await;
    let v = server.wait_status(&id, "escalated").await;
    assert_eq!(v["outcome"]["reason"], "approval_timeout", "{v}");
    assert_eq!(v["approval"]["expired"], true);
}

#[tokio::test]
async fn a_second_server_on_the_same_data_dir_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let _first = Server::start(dir.path(), free_port(), &[]).await;
    let out = Command::new(env!("CARGO_BIN_EXE_iras"))
        .args([
            "serve",
            "--addr",
            &format!("127.0.0.1:{}", free_port()),
            "--data-dir",
        ])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("another iras process"),
        "{out:?}"
    );
}
