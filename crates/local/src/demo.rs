//! `iras demo`: one scenario end to end, printed as a live timeline, then the post-mortem.

use std::process::ExitCode;
use std::time::Duration;

use clap::Args;
use iras_adapters::config::Config;
use iras_core::TimelineEvent;

use crate::asl::EngineOptions;
use crate::drive::{drive, resolve_scenario, Answer};
use crate::runtime::Runtime;

/// Arguments of `iras demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// A scenario name under tests/fixtures/scenarios, or a path to one.
    #[arg(long, default_value = "checkout-bad-deploy")]
    scenario: String,
    /// Approve the plan when asked (the default).
    #[arg(long, conflicts_with_all = ["reject", "timeout"])]
    approve: bool,
    /// Reject the plan when asked.
    #[arg(long, conflicts_with = "timeout")]
    reject: bool,
    /// Let the approval deadline (shortened to 3 seconds) pass.
    #[arg(long)]
    timeout: bool,
}

fn print_event(e: &TimelineEvent) {
    say!(
        "[{}] {} {}",
        e.at.format("%H:%M:%S"),
        e.kind.symbol(),
        e.message
    );
}

/// Runs the demo.
pub async fn run(args: DemoArgs) -> anyhow::Result<ExitCode> {
    let (path, scenario) = resolve_scenario(&args.scenario)?;
    let dir = tempfile::tempdir()?;
    let mut config = Config::from_env()?;
    config.data_dir = dir.path().to_path_buf();
    config.lambda_endpoint = None;
    if args.timeout {
        config.policy.approval_timeout_p0 = Duration::from_secs(3);
        config.policy.approval_timeout_other = Duration::from_secs(3);
    }
    let answer = if args.reject {
        Answer::Reject
    } else if args.timeout {
        Answer::Ignore
    } else {
        Answer::Approve
    };
    say!("IRAS demo: scenario {} ({})", scenario.name, path.display());
    say!("IRAS sees only the alert and the scenario's logs, metrics and deployments.");
    say!();
    let rt = Runtime::open(&config, Some(scenario.clone()), EngineOptions::default())?;
    let store = rt.deps.store.clone();
    let id = drive(
        &rt,
        &scenario,
        answer,
        "you (iras demo)",
        Duration::from_secs(120),
        print_event,
    )
    .await?;

    // The evidence behind the last analysis, as the analyst saw it.
    if let Some(inc) = store.get_incident(id).await? {
        if let Some(ctx) = store.get_context(id, inc.attempts.max(1)).await? {
            say!();
            say!("Evidence of the last attempt:");
            for t in ctx
                .logs
                .iter()
                .filter(|t| t.level >= iras_core::LogLevel::Warn)
                .take(5)
            {
                say!("  log  ×{:<4} {:<5} {}", t.count, t.level, t.template);
            }
            for m in ctx.metrics.iter().filter(|m| m.anomalous).take(5) {
                say!(
                    "  metric {} {} = {} (baseline {})",
                    m.service,
                    m.name,
                    m.current,
                    m.baseline
                );
            }
            for d in ctx.deployments.iter().take(3) {
                say!(
                    "  deploy {} {} at {} by {}: {}",
                    d.service,
                    d.version,
                    d.at.format("%H:%M"),
                    d.author,
                    d.description
                );
            }
        }
    }

    say!();
    match store.get_postmortem(id).await? {
        Some(pm) => say!("{}", pm.to_markdown()),
        None => say!("(no post-mortem was written)"),
    }
    let final_status = store
        .get_incident(id)
        .await?
        .map(|i| i.status.to_string())
        .unwrap_or_default();
    say!("Incident {id} ended {final_status}.");
    Ok(ExitCode::SUCCESS)
}
