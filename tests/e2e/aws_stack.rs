//! Tests through the local AWS stack (`scripts/local-aws`): moto's DynamoDB and Step Functions
//! (executing the real `statemachine.asl.json`), the real function binaries under
//! `cargo lambda watch`, and the proxy that routes moto's Lambda calls to them.
//!
//! One stack serves every test of this binary: it starts on first use (building the functions if
//! needed) and stops by itself when this process exits (`--exit-with`). Its functions simulate the
//! `checkout-bad-deploy` world and wait [`APPROVAL_TIMEOUT_SECS`] for a decision. The executions
//! on moto are driven once per path ([`moto_run`]) and shared by the tests that look at them.
//!
//! Everything AWS is spoken to as an AWS client would: the AWS JSON protocol over HTTP at
//! `AWS_ENDPOINT_URL` (moto does not check signatures, so a fixed `Authorization` header that
//! names the service is enough).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use iras_adapters::config::{build_deps, Config};
use iras_adapters::SqliteStore;
use iras_local::asl::{EngineOptions, HistoryEventKind};
use iras_local::runtime::Runtime;
use serde_json::{json, Value};

use crate::support::{call, scenario};

/// The approval deadline of the stack's functions (P0 and the rest): long enough to decide in,
/// short enough to watch it pass.
const APPROVAL_TIMEOUT_SECS: u64 = 20;
/// How long the stack may take to come up, including building the twelve functions.
const STACK_START_TIMEOUT: Duration = Duration::from_secs(600);
/// How long one execution may take on moto (the timeout path waits for the deadline).
const EXECUTION_TIMEOUT: Duration = Duration::from_secs(180);

const REPO: &str = env!("CARGO_MANIFEST_DIR");

/// The step functions a resolved incident passes through, in order.
const RESOLVED_FUNCTIONS: [&str; 8] = [
    "ingest",
    "triage",
    "gather-context",
    "analyze-root-cause",
    "plan-remediation",
    "request-approval",
    "apply-remediation",
    "write-postmortem",
];

// ---------------------------------------------------------------------------------------------
// The stack

/// A running `scripts/local-aws`.
struct Stack {
    /// `AWS_ENDPOINT_URL`: the proxy in front of moto.
    aws: String,
    /// `cargo lambda watch`: the Invoke API and `/lambda-url/<function>/...`.
    lambda: String,
    lambda_port: u16,
    table: String,
    state_machine_arn: String,
    /// The script's own output and the logs of its components.
    dir: PathBuf,
    /// Never reaped: the script stops everything when this process exits.
    _child: Mutex<Child>,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind(("127.0.0.1", 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free local port")
}

fn tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// Each stack keeps its logs in `target/tmp/local-aws-*` (they help when a test fails); those of
/// stacks from more than six hours ago go.
fn prune_old_stack_dirs() {
    let Ok(entries) = std::fs::read_dir(env!("CARGO_TARGET_TMPDIR")) else {
        return;
    };
    for entry in entries.flatten() {
        let old = entry
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age > Duration::from_secs(6 * 3600));
        if old
            && entry
                .file_name()
                .to_string_lossy()
                .starts_with("local-aws-")
        {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

impl Stack {
    fn start() -> Result<Stack, String> {
        prune_old_stack_dirs();
        let dir = tempfile::Builder::new()
            .prefix("local-aws-")
            .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
            .map_err(|e| format!("a temporary directory: {e}"))?
            .keep();
        let (aws_port, moto_port, lambda_port) = (free_port(), free_port(), free_port());
        let ready = dir.join("ready");
        let out = dir.join("local-aws.out");
        let log = std::fs::File::create(&out).map_err(|e| e.to_string())?;
        let mut cmd = Command::new("bash");
        cmd.arg(Path::new(REPO).join("scripts/local-aws"))
            .arg("--ready-file")
            .arg(&ready)
            .args(["--exit-with", &std::process::id().to_string()])
            .current_dir(REPO)
            .stdin(Stdio::null())
            .stdout(log.try_clone().map_err(|e| e.to_string())?)
            .stderr(log);
        // Only what this stack is meant to run with reaches the functions.
        for (k, _) in std::env::vars_os() {
            if k.to_string_lossy().starts_with("IRAS_") {
                cmd.env_remove(k);
            }
        }
        cmd.env("LOCAL_AWS_PORT", aws_port.to_string())
            .env("LOCAL_AWS_MOTO_PORT", moto_port.to_string())
            .env("LOCAL_AWS_LAMBDA_PORT", lambda_port.to_string())
            .env("LOCAL_AWS_LOG_DIR", dir.join("logs"))
            .env(
                "LOCAL_AWS_SCENARIO",
                Path::new(REPO).join("tests/fixtures/scenarios/checkout-bad-deploy"),
            )
            .env(
                "IRAS_APPROVAL_TIMEOUT_SECS",
                APPROVAL_TIMEOUT_SECS.to_string(),
            )
            .env(
                "IRAS_APPROVAL_TIMEOUT_P0_SECS",
                APPROVAL_TIMEOUT_SECS.to_string(),
            )
            .env("RUST_LOG", "info");
        let mut child = cmd
            .spawn()
            .map_err(|e| format!("starting scripts/local-aws: {e}"))?;
        let started = Instant::now();
        loop {
            if let Ok(text) = std::fs::read_to_string(&ready) {
                let get = |key: &str| {
                    text.lines()
                        .find_map(|l| l.strip_prefix(&format!("{key}=")))
                        .map(str::to_owned)
                        .ok_or_else(|| format!("{key} missing from {}", ready.display()))
                };
                eprintln!(
                    "local AWS stack ready after {:.1} s (logs in {})",
                    started.elapsed().as_secs_f64(),
                    dir.display()
                );
                return Ok(Stack {
                    aws: get("AWS_ENDPOINT_URL")?,
                    lambda: get("LAMBDA_ENDPOINT")?,
                    lambda_port,
                    table: get("TABLE_NAME")?,
                    state_machine_arn: get("STATE_MACHINE_ARN")?,
                    dir,
                    _child: Mutex::new(child),
                });
            }
            if let Ok(Some(status)) = child.try_wait() {
                return Err(format!(
                    "scripts/local-aws exited with {status} before it was ready:\n{}",
                    tail(&out, 40)
                ));
            }
            if started.elapsed() > STACK_START_TIMEOUT {
                let _ = child.kill();
                return Err(format!(
                    "scripts/local-aws was not ready within {STACK_START_TIMEOUT:?}:\n{}",
                    tail(&out, 40)
                ));
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    fn execution_arn(&self, incident_id: &str) -> String {
        format!(
            "{}:{incident_id}",
            self.state_machine_arn
                .replace(":stateMachine:", ":execution:")
        )
    }

    /// The tail of the functions' and the proxy's logs, for failure messages.
    fn logs(&self) -> String {
        format!(
            "proxy.log:\n{}\nfunctions.log:\n{}",
            tail(&self.dir.join("logs/proxy.log"), 15),
            tail(&self.dir.join("logs/functions.log"), 15)
        )
    }
}

/// The stack of this test process, started on first use.
async fn stack() -> &'static Stack {
    static STACK: OnceLock<Result<Stack, String>> = OnceLock::new();
    let stack = tokio::task::spawn_blocking(|| STACK.get_or_init(Stack::start))
        .await
        .expect("starting the stack");
    match stack {
        Ok(s) => s,
        Err(e) => panic!("the local AWS stack did not start: {e}"),
    }
}

// ---------------------------------------------------------------------------------------------
// Talking to it

async fn http(method: &str, url: &str, body: Option<&Value>) -> (u16, Value) {
    let client = reqwest::Client::new();
    let mut req = client.request(method.parse().unwrap(), url);
    if let Some(b) = body {
        req = req
            .header("content-type", "application/json")
            .body(b.to_string());
    }
    let res = req
        .send()
        .await
        .unwrap_or_else(|e| panic!("{method} {url}: {e}"));
    let status = res.status().as_u16();
    let text = res.text().await.unwrap_or_default();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// One call of the AWS JSON protocol (DynamoDB: `DynamoDB_20120810`, Step Functions:
/// `AWSStepFunctions`).
async fn aws(stack: &Stack, service: &str, target: &str, body: Value) -> Value {
    let res = reqwest::Client::new()
        .post(&stack.aws)
        .header("content-type", "application/x-amz-json-1.0")
        .header("x-amz-target", target)
        .header(
            "authorization",
            format!(
                "AWS4-HMAC-SHA256 Credential=testing/20260317/us-east-1/{service}/aws4_request, \
                 SignedHeaders=host;x-amz-target, Signature=0"
            ),
        )
        .body(body.to_string())
        .send()
        .await
        .unwrap_or_else(|e| panic!("{target}: {e}"));
    let status = res.status();
    let text = res.text().await.unwrap_or_default();
    assert!(status.is_success(), "{target} answered {status}: {text}");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{target} answered {text:?}: {e}"))
}

async fn describe_execution(stack: &Stack, incident_id: &str) -> Value {
    aws(
        stack,
        "states",
        "AWSStepFunctions.DescribeExecution",
        json!({"executionArn": stack.execution_arn(incident_id)}),
    )
    .await
}

async fn execution_history(stack: &Stack, incident_id: &str) -> Vec<Value> {
    let mut events = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let mut req = json!({"executionArn": stack.execution_arn(incident_id), "maxResults": 1000});
        if let Some(t) = &token {
            req["nextToken"] = json!(t);
        }
        let page = aws(stack, "states", "AWSStepFunctions.GetExecutionHistory", req).await;
        events.extend(page["events"].as_array().cloned().unwrap_or_default());
        match page["nextToken"].as_str() {
            Some(t) if !t.is_empty() => token = Some(t.to_owned()),
            _ => return events,
        }
    }
}

/// A record of the table, decoded from its `doc` attribute.
async fn dynamo_doc(stack: &Stack, pk: &str, sk: &str) -> Option<Value> {
    let out = aws(
        stack,
        "dynamodb",
        "DynamoDB_20120810.GetItem",
        json!({"TableName": stack.table, "Key": {"pk": {"S": pk}, "sk": {"S": sk}}, "ConsistentRead": true}),
    )
    .await;
    let doc = out["Item"]["doc"]["S"].as_str()?;
    Some(serde_json::from_str(doc).expect("doc is JSON"))
}

/// The incident as the incidents-api function shows it.
async fn incident(stack: &Stack, id: &str) -> Value {
    let (status, body) = http(
        "GET",
        &format!("{}/lambda-url/incidents-api/incidents/{id}", stack.lambda),
        None,
    )
    .await;
    assert_eq!(status, 200, "GET /incidents/{id}: {body}");
    body
}

async fn wait_for_status(stack: &Stack, id: &str, want: &str) {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let inc = incident(stack, id).await;
        if inc["status"] == want {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "incident {id} never became {want}; it is {}\n{}",
            inc["status"],
            stack.logs()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

// ---------------------------------------------------------------------------------------------
// The paths, driven on moto once each

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Way {
    /// `checkout-bad-deploy`, approved.
    Approved,
    /// `checkout-bad-deploy`, rejected.
    Rejected,
    /// `checkout-bad-deploy`, nobody decides.
    TimedOut,
    /// An alert about a service of which the world knows nothing: every analysis attempt is
    /// inconclusive, so the root-cause loop runs to its end and escalates.
    Inconclusive,
}

impl Way {
    /// The alert (source, body); `tag` makes its fingerprint unique on the shared stack.
    fn alert(self, tag: &str) -> (String, Value) {
        match self {
            Way::Inconclusive => (
                "generic".into(),
                json!({"title": format!("Search results are slow ({tag})"), "service": "search-api",
                       "severity": "warning", "timestamp": "2026-03-17T14:12:41Z"}),
            ),
            _ => {
                let s = scenario("checkout-bad-deploy");
                let mut alert = s.alert.clone();
                for a in alert["alerts"].as_array_mut().expect("alertmanager alerts") {
                    let fp = a["fingerprint"].as_str().unwrap_or("fp").to_owned();
                    a["fingerprint"] = json!(format!("{fp}{tag}"));
                }
                (s.source.to_string(), alert)
            }
        }
    }

    /// The decision sent once the incident awaits approval: (route, body).
    fn decision(self) -> Option<(&'static str, Value)> {
        match self {
            Way::Approved => Some(("approve", json!({"approver": "alice", "comment": "go"}))),
            Way::Rejected => Some(("reject", json!({"approver": "bob", "comment": "not now"}))),
            Way::TimedOut | Way::Inconclusive => None,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Way::Approved => "approved",
            Way::Rejected => "rejected",
            Way::TimedOut => "timed-out",
            Way::Inconclusive => "inconclusive",
        }
    }
}

/// One execution on moto, start to end.
#[derive(Debug)]
struct MotoRun {
    incident_id: String,
    trace_id: String,
    /// DescribeExecution's status.
    status: String,
    /// The execution's output.
    output: Value,
    /// The names of the states entered, in order (GetExecutionHistory's `*StateEntered` events).
    states: Vec<String>,
    history: Vec<Value>,
    /// What the approval-callback function answered to the decision.
    decision: Option<(u16, Value)>,
}

async fn drive_on_moto(way: Way) -> MotoRun {
    let stack = stack().await;
    let (source, alert) = way.alert(&format!("-moto-{}", way.name()));
    let (status, body) = http(
        "POST",
        &format!("{}/lambda-url/webhook/webhook/{source}", stack.lambda),
        Some(&alert),
    )
    .await;
    assert_eq!(status, 202, "the webhook function answered {body}");
    let id = body["incident_id"]
        .as_str()
        .expect("an incident id")
        .to_owned();
    let trace_id = body["trace_id"].as_str().unwrap_or_default().to_owned();

    let mut decision = None;
    if way != Way::Inconclusive {
        wait_for_status(stack, &id, "awaiting_approval").await;
    }
    if let Some((route, body)) = way.decision() {
        decision = Some(
            http(
                "POST",
                &format!(
                    "{}/lambda-url/approval-callback/incidents/{id}/{route}",
                    stack.lambda
                ),
                Some(&body),
            )
            .await,
        );
    }

    let deadline = Instant::now() + EXECUTION_TIMEOUT;
    let described = loop {
        let d = describe_execution(stack, &id).await;
        if d["status"] != "RUNNING" {
            break d;
        }
        assert!(
            Instant::now() < deadline,
            "the execution of {id} ({}) still runs after {EXECUTION_TIMEOUT:?}\n{}",
            way.name(),
            stack.logs()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let history = execution_history(stack, &id).await;
    let states = history
        .iter()
        .filter(|e| {
            e["type"]
                .as_str()
                .is_some_and(|t| t.ends_with("StateEntered"))
        })
        .map(|e| {
            e["stateEnteredEventDetails"]["name"]
                .as_str()
                .unwrap_or("?")
                .to_owned()
        })
        .collect();
    MotoRun {
        incident_id: id,
        trace_id,
        status: described["status"].as_str().unwrap_or_default().to_owned(),
        output: described["output"]
            .as_str()
            .and_then(|o| serde_json::from_str(o).ok())
            .unwrap_or(Value::Null),
        states,
        history,
        decision,
    }
}

const ALL_WAYS: [Way; 4] = [
    Way::Approved,
    Way::Rejected,
    Way::TimedOut,
    Way::Inconclusive,
];

/// Each way's run on moto (or why it failed), in the order of [`ALL_WAYS`].
static RUNS: [OnceLock<Result<MotoRun, String>>; 4] = [
    OnceLock::new(),
    OnceLock::new(),
    OnceLock::new(),
    OnceLock::new(),
];

/// The run of `way` on moto. The first call drives all of them at once, on a thread of their own
/// (one waits for the approval deadline; run one after another they would take four times as
/// long), and every test waits for the one it looks at.
async fn moto_run(way: Way) -> &'static MotoRun {
    static STARTED: std::sync::Once = std::sync::Once::new();
    STARTED.call_once(|| {
        std::thread::spawn(|| {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime");
            rt.block_on(async {
                let mut setters = Vec::new();
                for (i, way) in ALL_WAYS.into_iter().enumerate() {
                    let drive = tokio::spawn(drive_on_moto(way));
                    setters.push(tokio::spawn(async move {
                        let result = drive.await.map_err(|e| match e.try_into_panic() {
                            Ok(p) => p
                                .downcast_ref::<String>()
                                .cloned()
                                .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                                .unwrap_or_else(|| "a panic".into()),
                            Err(e) => e.to_string(),
                        });
                        let _ = RUNS[i].set(result);
                    }));
                }
                for s in setters {
                    let _ = s.await;
                }
            });
        });
    });
    let i = ALL_WAYS
        .iter()
        .position(|w| *w == way)
        .expect("a known way");
    loop {
        if let Some(result) = RUNS[i].get() {
            return result
                .as_ref()
                .unwrap_or_else(|e| panic!("the {} run on moto failed: {e}", way.name()));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The function names of every Lambda the execution invoked, in order.
fn invoked_functions(history: &[Value]) -> Vec<String> {
    let name = |arn: &str| arn.rsplit(":function:").next().unwrap_or(arn).to_owned();
    history
        .iter()
        .filter_map(|e| match e["type"].as_str()? {
            "LambdaFunctionScheduled" => Some(name(
                e["lambdaFunctionScheduledEventDetails"]["resource"].as_str()?,
            )),
            "TaskScheduled" => {
                let params: Value =
                    serde_json::from_str(e["taskScheduledEventDetails"]["parameters"].as_str()?)
                        .ok()?;
                Some(name(params["FunctionName"].as_str()?))
            }
            _ => None,
        })
        .collect()
}

async fn assert_escalated_with_postmortem(stack: &Stack, run: &MotoRun) {
    assert_eq!(run.status, "SUCCEEDED", "{run:?}");
    let id = &run.incident_id;
    assert_eq!(incident(stack, id).await["status"], "escalated");
    let (status, pm) = http(
        "GET",
        &format!(
            "{}/lambda-url/incidents-api/incidents/{id}/postmortem",
            stack.lambda
        ),
        None,
    )
    .await;
    assert_eq!(status, 200, "{pm}");
    assert_eq!(pm["status"], "escalated");
    let stored = dynamo_doc(stack, &format!("INC#{id}"), "PM")
        .await
        .expect("the post-mortem item in DynamoDB");
    assert_eq!(stored["status"], "escalated");
    assert_eq!(run.states.first().map(String::as_str), Some("Ingest"));
    assert_eq!(
        &run.states[run.states.len() - 2..],
        ["Escalate", "WritePostmortem"],
        "{:?}",
        run.states
    );
}

// ---------------------------------------------------------------------------------------------
// The tests

#[tokio::test]
async fn an_alert_to_the_webhook_function_runs_every_real_lambda_on_moto_and_an_approval_through_the_callback_function_resolves_it(
) {
    let stack = stack().await;
    let run = moto_run(Way::Approved).await;
    let id = &run.incident_id;

    let (status, answer) = run.decision.clone().expect("a decision was sent");
    assert_eq!(status, 200, "approve answered {answer}");
    assert_eq!(answer["decision"]["by"], "alice");
    assert_eq!(run.status, "SUCCEEDED", "{run:?}");
    assert_eq!(run.output["approval"]["decision"], "approved");
    assert_eq!(run.output["apply"]["outcome"], "resolved");
    assert_eq!(run.output["postmortem"]["status"], "resolved");
    assert_eq!(invoked_functions(&run.history), RESOLVED_FUNCTIONS);
    assert_eq!(
        run.states,
        [
            "Ingest",
            "Triage",
            "GatherContext",
            "AnalyzeRootCause",
            "IsConfident",
            "PlanRemediation",
            "ShouldAutoApply",
            "RequestApproval",
            "IsApproved",
            "ApplyRemediation",
            "IsResolved",
            "WritePostmortem"
        ]
    );

    // Read back from DynamoDB: through the incidents-api function, and the items themselves.
    let inc = incident(stack, id).await;
    assert_eq!(inc["status"], "resolved");
    assert_eq!(inc["decision"]["verdict"], "approved");
    let (status, pm) = http(
        "GET",
        &format!(
            "{}/lambda-url/incidents-api/incidents/{id}/postmortem",
            stack.lambda
        ),
        None,
    )
    .await;
    assert_eq!(status, 200, "{pm}");
    assert_eq!(pm["status"], "resolved");
    let stored = dynamo_doc(stack, &format!("INC#{id}"), "PM")
        .await
        .expect("the post-mortem item in DynamoDB");
    assert_eq!(stored["status"], "resolved");
    assert_eq!(stored["incident_id"].as_str(), Some(id.as_str()));
    let meta = dynamo_doc(stack, &format!("INC#{id}"), "META")
        .await
        .expect("the incident item in DynamoDB");
    assert_eq!(meta["status"], "resolved");

    // The first decision won; a second one is refused and changes nothing.
    let (status, body) = http(
        "POST",
        &format!(
            "{}/lambda-url/approval-callback/incidents/{id}/reject",
            stack.lambda
        ),
        Some(&json!({"approver": "mallory"})),
    )
    .await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(incident(stack, id).await["decision"]["by"], "alice");
}

#[tokio::test]
async fn a_rejection_through_the_callback_function_escalates_on_moto_with_a_postmortem() {
    let stack = stack().await;
    let run = moto_run(Way::Rejected).await;
    let (status, answer) = run.decision.clone().expect("a decision was sent");
    assert_eq!(status, 200, "reject answered {answer}");
    assert_eq!(run.output["approval"]["decision"], "rejected");
    assert!(run.output.get("apply").is_none(), "{}", run.output);
    assert!(!invoked_functions(&run.history).contains(&"apply-remediation".to_owned()));
    assert_escalated_with_postmortem(stack, run).await;
    assert_eq!(
        incident(stack, &run.incident_id).await["decision"]["verdict"],
        "rejected"
    );
}

#[tokio::test]
async fn an_approval_deadline_passing_on_moto_escalates_with_a_postmortem_and_a_late_approval_is_refused(
) {
    let stack = stack().await;
    let run = moto_run(Way::TimedOut).await;
    // Step Functions itself fired the deadline: RequestApproval failed with States.Timeout.
    assert!(
        run.history.iter().any(|e| e["type"] == "TaskTimedOut"),
        "no TaskTimedOut in {:#?}",
        run.history
    );
    assert_eq!(
        run.output["error"]["Error"], "States.Timeout",
        "{}",
        run.output
    );
    assert_escalated_with_postmortem(stack, run).await;

    let id = &run.incident_id;
    let (status, body) = http(
        "POST",
        &format!(
            "{}/lambda-url/approval-callback/incidents/{id}/approve",
            stack.lambda
        ),
        Some(&json!({"approver": "late"})),
    )
    .await;
    assert!(
        status == 409 || status == 410,
        "a late approval answered {status} {body}"
    );
    let inc = incident(stack, id).await;
    assert_eq!(inc["status"], "escalated");
    assert!(
        inc["decision"].is_null() || inc["decision"]["by"] != "late",
        "the late decision was recorded: {inc}"
    );
}

/// One execution on the embedded runner (in-process steps, SQLite), with the stack's policy.
async fn run_locally(way: Way) -> (String, Value, Vec<String>, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let timeout = APPROVAL_TIMEOUT_SECS.to_string();
    let config = Config::from_lookup(&|k| match k {
        "IRAS_APPROVAL_TIMEOUT_SECS" | "IRAS_APPROVAL_TIMEOUT_P0_SECS" => Some(timeout.clone()),
        _ => None,
    })
    .unwrap();
    let db = dir.path().join("iras.db");
    let deps = build_deps(
        Arc::new(SqliteStore::open(&db).unwrap()),
        config.policy.clone(),
        Some(scenario("checkout-bad-deploy")),
    );
    // The deadline path runs at 1/20 of real time: the same 20 s deadline fires after 1 s.
    let time_scale = if way == Way::TimedOut { 0.05 } else { 1.0 };
    let rt = Runtime::with_deps(
        deps,
        &db,
        None,
        EngineOptions {
            time_scale,
            ..EngineOptions::default()
        },
    )
    .unwrap();
    let (source, alert) = way.alert("-local");
    let (status, body) = call(&rt, "POST", &format!("/webhook/{source}"), Some(alert)).await;
    assert_eq!(status.as_u16(), 202, "{body}");
    let id = body["incident_id"].as_str().unwrap().to_owned();
    let trace_id = body["trace_id"].as_str().unwrap_or_default().to_owned();
    if let Some((route, decision)) = way.decision() {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let (_, inc) = call(&rt, "GET", &format!("/incidents/{id}"), None).await;
            if inc["status"] == "awaiting_approval" {
                break;
            }
            assert!(Instant::now() < deadline, "never awaited approval: {inc}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let (status, body) = call(
            &rt,
            "POST",
            &format!("/incidents/{id}/{route}"),
            Some(decision),
        )
        .await;
        assert_eq!(status.as_u16(), 200, "{body}");
    }
    let summary = rt
        .engine
        .wait_until_finished(&id, Duration::from_secs(60))
        .await
        .expect("the local execution finishes");
    let states = summary
        .history
        .iter()
        .filter_map(|e| match &e.kind {
            HistoryEventKind::StateEntered { state, .. } => Some(state.clone()),
            _ => None,
        })
        .collect();
    (
        summary.status.as_str().to_owned(),
        summary.output.unwrap_or(Value::Null),
        states,
        id,
        trace_id,
    )
}

/// An execution's output with the run's own ids replaced and engine-specific error causes
/// (free text) blanked, so that the two engines' outputs can be compared.
fn normalized(output: &Value, incident_id: &str, trace_id: &str) -> Value {
    fn walk(v: &Value, id: &str, trace: &str, key: Option<&str>) -> Value {
        match v {
            Value::String(s) if s == id => json!("<incident>"),
            Value::String(s) if !trace.is_empty() && s == trace => json!("<trace>"),
            Value::String(_) if key == Some("Cause") => json!("<cause>"),
            Value::Object(m) => Value::Object(
                m.iter()
                    .map(|(k, v)| (k.clone(), walk(v, id, trace, Some(k))))
                    .collect(),
            ),
            Value::Array(a) => Value::Array(a.iter().map(|v| walk(v, id, trace, None)).collect()),
            other => other.clone(),
        }
    }
    walk(output, incident_id, trace_id, None)
}

#[tokio::test]
async fn the_embedded_runner_enters_the_same_states_as_moto_and_ends_with_the_same_output() {
    for way in ALL_WAYS {
        let moto = moto_run(way).await;
        let (status, output, states, id, trace_id) = run_locally(way).await;
        assert_eq!(
            states,
            moto.states,
            "{}: the embedded runner took other states than moto",
            way.name()
        );
        assert_eq!(moto.status, "SUCCEEDED", "{}: {moto:?}", way.name());
        assert!(
            moto.output["postmortem"]["status"].is_string(),
            "{}: no post-mortem in the output {}",
            way.name(),
            moto.output
        );
        assert_eq!(status, "Succeeded", "{}: locally {output}", way.name());
        assert_eq!(
            normalized(&output, &id, &trace_id),
            normalized(&moto.output, &moto.incident_id, &moto.trace_id),
            "{}: the outputs differ",
            way.name()
        );
    }
    let inconclusive = moto_run(Way::Inconclusive).await;
    assert!(
        inconclusive
            .states
            .iter()
            .filter(|s| *s == "GatherContext")
            .count()
            > 1,
        "the root-cause loop did not run again: {:?}",
        inconclusive.states
    );
}

#[tokio::test]
async fn a_step_error_reaches_step_functions_as_a_function_error_under_the_steps_error_name() {
    let stack = stack().await;
    // As moto's Step Functions engine calls it: the ARN, URL-encoded, at AWS_ENDPOINT_URL.
    let arn = "arn%3Aaws%3Alambda%3Aus-east-1%3A123456789012%3Afunction%3Atriage";
    let res = reqwest::Client::new()
        .post(format!(
            "{}/2015-03-31/functions/{arn}/invocations",
            stack.aws
        ))
        .body(r#"{"incident_id": "not-an-id", "trace_id": "t"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 200);
    assert_eq!(
        res.headers()
            .get("x-amz-function-error")
            .and_then(|v| v.to_str().ok()),
        Some("Unhandled")
    );
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["errorType"], "Iras.InvalidInput", "{body}");
}

#[tokio::test]
async fn cargo_lambda_invoke_runs_one_function_with_its_event_fixture() {
    let stack = stack().await;
    let port = stack.lambda_port.to_string();
    let out = tokio::process::Command::new(Path::new(REPO).join(".tools/venv/bin/cargo-lambda"))
        .args([
            "lambda",
            "invoke",
            "--invoke-address",
            "127.0.0.1",
            "--invoke-port",
            &port,
        ])
        .args([
            "--data-file",
            "tests/fixtures/events/incidents-api.json",
            "incidents-api",
        ])
        .current_dir(REPO)
        .output()
        .await
        .expect("cargo-lambda runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "cargo lambda invoke failed: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let response: Value = serde_json::from_str(stdout.trim()).expect("an API Gateway response");
    assert_eq!(response["statusCode"], 200, "{response}");
    let body: Value = serde_json::from_str(response["body"].as_str().unwrap_or("null")).unwrap();
    assert!(body["incidents"].is_array(), "{body}");
}

#[tokio::test]
async fn the_stack_script_creates_the_table_exactly_as_the_dynamodb_store_does() {
    use aws_sdk_dynamodb::config::{Credentials, Region};
    let stack = stack().await;
    let config = aws_sdk_dynamodb::Config::builder()
        .behavior_version_latest()
        .endpoint_url(&stack.aws)
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("testing", "testing", None, None, "test"))
        .build();
    let client = aws_sdk_dynamodb::Client::from_conf(config);
    iras_adapters::dynamo::create_table(&client, "schema-reference")
        .await
        .unwrap();
    let shape = |table: &str| {
        let table = table.to_owned();
        async move {
            let d = aws(
                stack,
                "dynamodb",
                "DynamoDB_20120810.DescribeTable",
                json!({"TableName": table}),
            )
            .await;
            let t = &d["Table"];
            let mut attrs: Vec<String> = t["AttributeDefinitions"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| a.to_string())
                .collect();
            attrs.sort();
            let gsis: Vec<Value> = t["GlobalSecondaryIndexes"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .iter()
                .map(|g| json!({"name": g["IndexName"], "keys": g["KeySchema"], "projection": g["Projection"]}))
                .collect();
            let ttl = aws(
                stack,
                "dynamodb",
                "DynamoDB_20120810.DescribeTimeToLive",
                json!({"TableName": table}),
            )
            .await;
            json!({
                "keys": t["KeySchema"],
                "attributes": attrs,
                "gsis": gsis,
                "billing": t["BillingModeSummary"]["BillingMode"],
                "ttl": ttl["TimeToLiveDescription"]["AttributeName"],
            })
        }
    };
    let (ours, reference) = (shape(&stack.table).await, shape("schema-reference").await);
    assert!(
        ours["gsis"].as_array().is_some_and(|g| !g.is_empty()) && ours["ttl"].is_string(),
        "{ours}"
    );
    assert_eq!(ours, reference);
}
