//! Remediation plans: typed actions from a fixed catalogue, each with its typed inverse.

use std::collections::BTreeMap;
use std::fmt;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::ids::ServiceName;

/// How risky a step is. Ordered: `Low < Medium < High`.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Risk {
    /// Easily undone, small blast radius.
    Low,
    /// Changes production behaviour; undo is known.
    Medium,
    /// Hard to undo or wide blast radius.
    High,
}

impl fmt::Display for Risk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Low => "low",
            Self::Medium => "medium",
            Self::High => "high",
        })
    }
}

/// How a metric is compared with a threshold in `verify_metric`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Comparison {
    /// The value must be below the threshold.
    Below,
    /// The value must be above the threshold.
    Above,
}

/// The action catalogue. Nothing outside it can be planned or run; unknown kinds fail to parse.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Action {
    /// Redeploy `to_version` in place of `from_version`.
    RollbackDeployment {
        /// The service.
        service: ServiceName,
        /// The version running now.
        from_version: String,
        /// The version to go back to.
        to_version: String,
    },
    /// Restart every instance of a service, one at a time.
    RestartService {
        /// The service.
        service: ServiceName,
    },
    /// Change the number of replicas.
    ScaleService {
        /// The service.
        service: ServiceName,
        /// Replicas now.
        from_replicas: u32,
        /// Replicas wanted.
        to_replicas: u32,
    },
    /// Set a configuration value.
    SetConfig {
        /// The service.
        service: ServiceName,
        /// The key.
        key: String,
        /// The value now (what the rollback restores).
        from_value: String,
        /// The value wanted.
        to_value: String,
    },
    /// Turn a feature flag on or off.
    ToggleFeatureFlag {
        /// The service that reads the flag.
        service: ServiceName,
        /// The flag.
        flag: String,
        /// The state wanted.
        enabled: bool,
    },
    /// Run a named runbook from the team's automation.
    RunRunbook {
        /// The service.
        service: ServiceName,
        /// The runbook name.
        runbook: String,
        /// Its parameters.
        #[serde(default)]
        parameters: BTreeMap<String, String>,
    },
    /// Check that a metric is back within bounds.
    VerifyMetric {
        /// The service.
        service: ServiceName,
        /// The signal.
        metric: String,
        /// How to compare.
        comparison: Comparison,
        /// The bound.
        threshold: f64,
    },
    /// A step only a human can do.
    Manual {
        /// The service concerned, if any.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        service: Option<ServiceName>,
        /// What to do.
        instructions: String,
    },
}

/// The catalogue names, as they appear in the `kind` field.
pub const ACTION_KINDS: [&str; 8] = [
    "rollback_deployment",
    "restart_service",
    "scale_service",
    "set_config",
    "toggle_feature_flag",
    "run_runbook",
    "verify_metric",
    "manual",
];

impl Action {
    /// The catalogue name of this action.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::RollbackDeployment { .. } => "rollback_deployment",
            Self::RestartService { .. } => "restart_service",
            Self::ScaleService { .. } => "scale_service",
            Self::SetConfig { .. } => "set_config",
            Self::ToggleFeatureFlag { .. } => "toggle_feature_flag",
            Self::RunRunbook { .. } => "run_runbook",
            Self::VerifyMetric { .. } => "verify_metric",
            Self::Manual { .. } => "manual",
        }
    }

    /// The service the action touches.
    pub fn service(&self) -> Option<&ServiceName> {
        match self {
            Self::RollbackDeployment { service, .. }
            | Self::RestartService { service }
            | Self::ScaleService { service, .. }
            | Self::SetConfig { service, .. }
            | Self::ToggleFeatureFlag { service, .. }
            | Self::RunRunbook { service, .. }
            | Self::VerifyMetric { service, .. } => Some(service),
            Self::Manual { service, .. } => service.as_ref(),
        }
    }

    /// Whether running it changes nothing (so it needs no rollback).
    pub fn is_read_only(&self) -> bool {
        matches!(self, Self::VerifyMetric { .. })
    }

    /// The typed inverse, where one exists. A restart, a runbook and a manual step cannot be
    /// undone by another action, so they have none.
    pub fn inverse(&self) -> Option<Action> {
        match self {
            Self::RollbackDeployment {
                service,
                from_version,
                to_version,
            } => Some(Self::RollbackDeployment {
                service: service.clone(),
                from_version: to_version.clone(),
                to_version: from_version.clone(),
            }),
            Self::ScaleService {
                service,
                from_replicas,
                to_replicas,
            } => Some(Self::ScaleService {
                service: service.clone(),
                from_replicas: *to_replicas,
                to_replicas: *from_replicas,
            }),
            Self::SetConfig {
                service,
                key,
                from_value,
                to_value,
            } => Some(Self::SetConfig {
                service: service.clone(),
                key: key.clone(),
                from_value: to_value.clone(),
                to_value: from_value.clone(),
            }),
            Self::ToggleFeatureFlag {
                service,
                flag,
                enabled,
            } => Some(Self::ToggleFeatureFlag {
                service: service.clone(),
                flag: flag.clone(),
                enabled: !enabled,
            }),
            Self::RestartService { .. }
            | Self::RunRunbook { .. }
            | Self::VerifyMetric { .. }
            | Self::Manual { .. } => None,
        }
    }

    /// Whether every text field that the action needs is filled in. A rollback whose fields are
    /// blank is no rollback at all.
    pub fn is_blank(&self) -> bool {
        let blank = |s: &str| s.trim().is_empty();
        match self {
            Self::RollbackDeployment {
                from_version,
                to_version,
                ..
            } => blank(from_version) || blank(to_version),
            Self::SetConfig { key, to_value, .. } => blank(key) || blank(to_value),
            Self::ToggleFeatureFlag { flag, .. } => blank(flag),
            Self::RunRunbook { runbook, .. } => blank(runbook),
            Self::VerifyMetric { metric, .. } => blank(metric),
            Self::Manual { instructions, .. } => blank(instructions),
            Self::RestartService { .. } | Self::ScaleService { .. } => false,
        }
    }

    /// A human-readable command that says exactly what will run.
    pub fn command(&self) -> String {
        match self {
            Self::RollbackDeployment {
                service,
                from_version,
                to_version,
            } => {
                format!("deploy {service} {to_version} (replacing {from_version})")
            }
            Self::RestartService { service } => format!("rolling restart of {service}"),
            Self::ScaleService {
                service,
                from_replicas,
                to_replicas,
            } => {
                format!("scale {service} from {from_replicas} to {to_replicas} replicas")
            }
            Self::SetConfig {
                service,
                key,
                from_value,
                to_value,
            } => {
                format!("set {service} config {key} = {to_value:?} (was {from_value:?})")
            }
            Self::ToggleFeatureFlag {
                service,
                flag,
                enabled,
            } => {
                let state = if *enabled { "on" } else { "off" };
                format!("turn feature flag {flag} {state} for {service}")
            }
            Self::RunRunbook {
                service,
                runbook,
                parameters,
            } => {
                let params: Vec<String> =
                    parameters.iter().map(|(k, v)| format!("{k}={v}")).collect();
                if params.is_empty() {
                    format!("run runbook {runbook} for {service}")
                } else {
                    format!(
                        "run runbook {runbook} for {service} with {}",
                        params.join(" ")
                    )
                }
            }
            Self::VerifyMetric {
                service,
                metric,
                comparison,
                threshold,
            } => {
                let op = match comparison {
                    Comparison::Below => "<",
                    Comparison::Above => ">",
                };
                format!("verify {service} {metric} {op} {threshold}")
            }
            Self::Manual { instructions, .. } => format!("manual: {instructions}"),
        }
    }
}

/// One step of a plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct PlanStep {
    /// What to do.
    pub action: Action,
    /// How to undo it; `None` for read-only or irreversible steps.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollback: Option<Action>,
    /// Risk after the policy raised it to the action kind's minimum.
    pub risk: Risk,
    /// The command a human reads before approving.
    pub command: String,
    /// Why this step.
    #[serde(default)]
    pub rationale: String,
}

/// A remediation plan and what the safety policy concluded about it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct RemediationPlan {
    /// Steps, run in order.
    pub steps: Vec<PlanStep>,
    /// One sentence on what the plan achieves.
    pub summary: String,
    /// Whether a human must approve (always true unless the auto-apply policy allows otherwise).
    pub requires_approval: bool,
    /// Whether every step with side effects has a rollback.
    pub reversible: bool,
    /// The highest step risk.
    pub max_risk: Risk,
    /// Why the policy decided as it did.
    #[serde(default)]
    pub policy_notes: Vec<String>,
}

/// A plan as an analyst proposes it, before the safety policy sees it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ProposedPlan {
    /// One sentence on what the plan achieves.
    pub summary: String,
    /// The steps.
    pub steps: Vec<ProposedStep>,
}

/// A step as proposed: the action, its rollback and the analyst's risk estimate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ProposedStep {
    /// What to do.
    pub action: Action,
    /// How to undo it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollback: Option<Action>,
    /// The analyst's risk estimate; the policy may raise it.
    pub risk: Risk,
    /// Why this step.
    #[serde(default)]
    pub rationale: String,
}
