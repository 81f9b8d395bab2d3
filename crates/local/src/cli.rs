//! The `iras` command line: `serve`, `demo`, `eval`, and a small client for a running server.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Args, Parser, Subcommand};
use iras_adapters::config::Config;
use iras_adapters::simulated::load_scenario;

use crate::asl::EngineOptions;
use crate::runtime::Runtime;

/// IRAS: takes an alert, finds the cause, proposes a reversible fix, waits for one human click,
/// applies it or pages someone, and writes the post-mortem.
#[derive(Debug, Parser)]
#[command(name = "iras", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the HTTP API and run the workflow on the embedded store.
    Serve(ServeArgs),
    /// Run one scenario end to end in a fresh temporary data directory, printing the timeline.
    Demo(crate::demo::DemoArgs),
    /// Run every scenario in a directory with automatic approval and score the analysis.
    Eval(crate::eval::EvalArgs),
    /// List incidents on a running server.
    Incidents(ClientArgs),
    /// Show one incident on a running server.
    Show(IdArgs),
    /// Approve an incident's pending plan on a running server.
    Approve(DecideArgs),
    /// Reject an incident's pending plan on a running server.
    Reject(DecideArgs),
}

#[derive(Debug, Args)]
struct ServeArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8000")]
    addr: SocketAddr,
    /// Directory of the embedded store (overrides IRAS_DATA_DIR).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Demo mode: telemetry comes from this scenario's world (a directory or its scenario.json).
    #[arg(long)]
    simulate: Option<PathBuf>,
}

#[derive(Debug, Args)]
struct ClientArgs {
    /// The server's base URL.
    #[arg(long, env = "IRAS_SERVER", default_value = "http://127.0.0.1:8000")]
    server: String,
}

#[derive(Debug, Args)]
struct IdArgs {
    /// The incident id.
    id: String,
    #[command(flatten)]
    client: ClientArgs,
}

#[derive(Debug, Args)]
struct DecideArgs {
    /// The incident id.
    id: String,
    /// Who decides (recorded on the incident).
    #[arg(long, env = "USER", default_value = "cli")]
    approver: String,
    /// Why.
    #[arg(long)]
    comment: Option<String>,
    #[command(flatten)]
    client: ClientArgs,
}

/// Entry point of the binary.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: could not start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn init_logs(default: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Serve(a) => serve(a).await.map(|_| ExitCode::SUCCESS),
        Command::Demo(a) => {
            init_logs("warn");
            crate::demo::run(a).await
        }
        Command::Eval(a) => {
            init_logs("error");
            crate::eval::run(a).await
        }
        Command::Incidents(c) => client_get(&c.server, "/incidents").await,
        Command::Show(a) => client_get(&a.client.server, &format!("/incidents/{}", a.id)).await,
        Command::Approve(a) => client_decide(a, "approve").await,
        Command::Reject(a) => client_decide(a, "reject").await,
    }
}

async fn serve(a: ServeArgs) -> anyhow::Result<()> {
    init_logs("info");
    let mut config = Config::from_env().context("invalid configuration")?;
    if let Some(d) = a.data_dir {
        config.data_dir = d;
    }
    if let Some(s) = a.simulate {
        config.simulate = Some(s);
    }
    let scenario = match &config.simulate {
        Some(p) => Some(load_scenario(p)?),
        None => None,
    };
    let rt = Runtime::open(&config, scenario, EngineOptions::default())?;
    let resumed = rt.resume().await?;
    let listener = tokio::net::TcpListener::bind(a.addr)
        .await
        .with_context(|| format!("could not listen on {}", a.addr))?;
    let addr = listener.local_addr()?;
    tracing::info!(%addr, data_dir = %config.data_dir.display(), resumed, "IRAS listening on http://{addr}");
    eprintln!(
        "IRAS listening on http://{addr} (data in {}; {resumed} execution(s) resumed)",
        config.data_dir.display()
    );
    axum::serve(listener, rt.router())
        .with_graceful_shutdown(shutdown_signal())
        .await
        .context("the HTTP server failed")?;
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}

async fn print_response(res: reqwest::Response) -> anyhow::Result<ExitCode> {
    let status = res.status();
    let text = res
        .text()
        .await
        .context("could not read the server's answer")?;
    let pretty = serde_json::from_str::<serde_json::Value>(&text)
        .ok()
        .and_then(|v| serde_json::to_string_pretty(&v).ok())
        .unwrap_or(text);
    if status.is_success() {
        say!("{pretty}");
        Ok(ExitCode::SUCCESS)
    } else {
        eprintln!("{status}: {pretty}");
        Ok(ExitCode::FAILURE)
    }
}

async fn client_get(server: &str, path: &str) -> anyhow::Result<ExitCode> {
    let url = format!("{}{path}", server.trim_end_matches('/'));
    let res = reqwest::get(&url)
        .await
        .with_context(|| format!("could not reach {url}"))?;
    print_response(res).await
}

async fn client_decide(a: DecideArgs, verb: &str) -> anyhow::Result<ExitCode> {
    let url = format!(
        "{}/incidents/{}/{verb}",
        a.client.server.trim_end_matches('/'),
        a.id
    );
    let res = reqwest::Client::new()
        .post(&url)
        .json(&serde_json::json!({"approver": a.approver, "comment": a.comment}))
        .send()
        .await
        .with_context(|| format!("could not reach {url}"))?;
    print_response(res).await
}
