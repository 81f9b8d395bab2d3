//! A moto server (the AWS emulator, from PyPI `moto[server]`) for tests that talk to DynamoDB:
//! [`MotoServer::start`] runs one on a free local port and stops it when dropped, and
//! [`MotoServer::shared`] lets the tests of one binary share one.
//!
//! moto keeps everything in memory and never deletes items whose TTL passed; give each test its
//! own table (a random name) instead of resetting the server.

use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};

/// How long a starting server may take to answer.
const READY_TIMEOUT: Duration = Duration::from_secs(10);
/// Ports tried when another process takes the chosen one first.
const START_ATTEMPTS: usize = 3;

/// A running moto server, stopped (killed) when dropped.
#[derive(Debug)]
pub struct MotoServer {
    /// Its base URL, `http://127.0.0.1:<port>`: the value for `AWS_ENDPOINT_URL`.
    pub endpoint: String,
    child: Child,
}

/// Where `moto_server` is: `IRAS_MOTO_SERVER`, else the workspace's `.tools/venv` (where
/// `scripts/test.sh` installs it), else the `PATH`.
fn find_moto_server() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("IRAS_MOTO_SERVER").filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(p));
    }
    let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.tools/venv/bin/moto_server");
    if venv.is_file() {
        return Some(venv);
    }
    std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .map(|dir| dir.join("moto_server"))
            .find(|p| p.is_file())
    })
}

/// A port that was free a moment ago (the server may still lose it to another process; `start`
/// then tries another).
fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("finding a free local port for moto_server: {e}"))
}

impl MotoServer {
    /// Starts a moto server on a free 127.0.0.1 port and waits (up to ten seconds) until it
    /// answers. Panics if `moto_server` is not installed or does not come up.
    pub async fn start() -> MotoServer {
        let bin = find_moto_server().unwrap_or_else(|| {
            panic!("moto_server not found: run scripts/test.sh, which installs it into .tools/venv")
        });
        let mut last_failure = String::new();
        for _ in 0..START_ATTEMPTS {
            let port = free_port();
            let mut child = Command::new(&bin)
                .args(["-H", "127.0.0.1", "-p", &port.to_string()])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                // moto logs every request on stderr.
                .stderr(Stdio::null())
                .spawn()
                .unwrap_or_else(|e| panic!("starting {}: {e}", bin.display()));
            let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
            let deadline = Instant::now() + READY_TIMEOUT;
            loop {
                if tokio::net::TcpStream::connect(addr).await.is_ok() {
                    return MotoServer {
                        endpoint: format!("http://{addr}"),
                        child,
                    };
                }
                if let Ok(Some(status)) = child.try_wait() {
                    // Most likely the port was taken in between: try another one.
                    last_failure = format!("it exited with {status} before answering");
                    break;
                }
                if Instant::now() > deadline {
                    let _ = child.kill();
                    let _ = child.wait();
                    panic!(
                        "{} did not answer on {addr} within {READY_TIMEOUT:?}",
                        bin.display()
                    );
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
        panic!(
            "{} did not start ({last_failure}); run it by hand to see why",
            bin.display()
        )
    }

    /// A server shared by the tests of this process: started on first use, and stopped when the
    /// last test holding it drops its handle (a later test starts a new one). Tests run in
    /// parallel, so most of them share one server; every server is stopped by a `Drop`, which
    /// a process-wide static would never run.
    pub async fn shared() -> Arc<MotoServer> {
        static CURRENT: Mutex<Weak<MotoServer>> = Mutex::new(Weak::new());
        // Held across the start so that two tests do not both start a server.
        static STARTING: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
        let _starting = STARTING.lock().await;
        let current = CURRENT
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .upgrade();
        if let Some(server) = current {
            return server;
        }
        let server = Arc::new(MotoServer::start().await);
        *CURRENT.lock().unwrap_or_else(PoisonError::into_inner) = Arc::downgrade(&server);
        server
    }

    /// A DynamoDB client for this server: static test credentials, region `us-east-1`.
    pub async fn dynamodb_client(&self) -> aws_sdk_dynamodb::Client {
        let config = aws_sdk_dynamodb::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .credentials_provider(Credentials::new("testing", "testing", None, None, "moto"))
            .endpoint_url(&self.endpoint)
            .build();
        aws_sdk_dynamodb::Client::from_conf(config)
    }
}

impl Drop for MotoServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
