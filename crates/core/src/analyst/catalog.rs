//! The service catalogue: how much each service matters (tier, users, revenue path) and what it
//! depends on. Triage weighs impact with it; root-cause analysis reads dependencies from it.
//!
//! Services that are not configured are judged by their name, so that a `checkout` alert is
//! treated as a revenue path even before anyone writes a catalogue.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::ids::ServiceName;

/// How much a service matters to the business.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ServiceTier {
    /// Customer-facing and essential: revenue, sign-in, the front door.
    Critical,
    /// Customer-facing but not essential, or essential only indirectly.
    Standard,
    /// Internal tools, batch jobs, non-production environments.
    Internal,
}

impl ServiceTier {
    /// The snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Critical => "critical",
            Self::Standard => "standard",
            Self::Internal => "internal",
        }
    }
}

/// What the catalogue knows about one service.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServiceProfile {
    /// How much it matters.
    pub tier: ServiceTier,
    /// Roughly how many users depend on it (daily actives, say), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub estimated_users: Option<u64>,
    /// Whether money flows through it (checkout, payments, billing…).
    #[serde(default)]
    pub revenue_path: bool,
    /// Services it calls, whose evidence is worth gathering when it fails.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub depends_on: Vec<ServiceName>,
}

impl ServiceProfile {
    /// A profile of the given tier with nothing else known.
    pub fn new(tier: ServiceTier) -> Self {
        Self {
            tier,
            estimated_users: None,
            revenue_path: false,
            depends_on: Vec::new(),
        }
    }

    /// Sets the estimated number of users.
    pub fn with_users(mut self, users: u64) -> Self {
        self.estimated_users = Some(users);
        self
    }

    /// Marks the service as a revenue path.
    pub fn on_revenue_path(mut self) -> Self {
        self.revenue_path = true;
        self
    }

    /// Adds a dependency.
    pub fn depending_on(mut self, service: ServiceName) -> Self {
        if !self.depends_on.contains(&service) {
            self.depends_on.push(service);
        }
        self
    }
}

/// A profile and whether it was configured or guessed from the service's name.
#[derive(Debug, Clone, PartialEq)]
pub struct KnownProfile {
    /// The profile.
    pub profile: ServiceProfile,
    /// True when it came from the configured catalogue rather than from the name.
    pub configured: bool,
}

/// Services with their tier, users, revenue flag and dependencies. Deserialises from
/// `{"services": {"checkout": {"tier": "critical", "estimated_users": 50000, "revenue_path": true}}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServiceCatalog {
    /// Configured services.
    #[serde(default)]
    pub services: BTreeMap<ServiceName, ServiceProfile>,
    /// Whether services that are not configured are judged by their name (on by default).
    #[serde(default = "default_true")]
    pub infer_from_names: bool,
    /// Sources of platform events (cloud provider health, cluster controllers, node metrics,
    /// DNS), queried like services. When an analysis is not confident, it asks for their evidence
    /// next, since failures below the service show up there and not in the service's own logs.
    #[serde(default = "default_platform_sources")]
    pub platform_sources: Vec<ServiceName>,
}

fn default_true() -> bool {
    true
}

/// The usual names of platform event sources in a Kubernetes-on-AWS setup.
fn default_platform_sources() -> Vec<ServiceName> {
    [
        "aws-health",
        "kube-controller-manager",
        "kubelet",
        "node-exporter",
        "coredns",
    ]
    .into_iter()
    .filter_map(|s| ServiceName::parse(s).ok())
    .collect()
}

impl Default for ServiceCatalog {
    fn default() -> Self {
        Self {
            services: BTreeMap::new(),
            infer_from_names: true,
            platform_sources: default_platform_sources(),
        }
    }
}

/// Name parts that mark a revenue or sign-in path.
const REVENUE_WORDS: &[&str] = &[
    "checkout",
    "payment",
    "payments",
    "pay",
    "billing",
    "invoice",
    "invoicing",
    "auth",
    "authn",
    "authz",
    "oauth",
    "login",
    "signin",
    "sso",
    "identity",
    "cart",
    "basket",
    "order",
    "orders",
];

/// Name parts that mark the front door: critical for everyone, though no money flows through.
const FRONT_DOOR_WORDS: &[&str] = &[
    "frontend",
    "storefront",
    "edge",
    "web",
    "www",
    "api-gateway",
    "ingress",
];

/// Name parts that mark an internal tool or a non-production deployment.
const INTERNAL_WORDS: &[&str] = &[
    "internal",
    "admin",
    "backoffice",
    "report",
    "reports",
    "reporting",
    "batch",
    "cron",
    "tool",
    "tools",
    "tooling",
    "dashboard",
    "dashboards",
    "analytics",
    "etl",
    "jenkins",
    "ci",
    "staging",
    "dev",
    "sandbox",
    "test",
    "qa",
    "demo",
    "docs",
    "wiki",
    "intranet",
];

impl ServiceCatalog {
    /// An empty catalogue that judges every service by its name.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds or replaces a configured service.
    pub fn with_service(mut self, name: ServiceName, profile: ServiceProfile) -> Self {
        self.services.insert(name, profile);
        self
    }

    /// Parses a catalogue from JSON (the shape in the type's documentation).
    pub fn from_json(text: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(text)
    }

    /// The configured profile, or one guessed from the name when inference is on.
    pub fn profile(&self, name: &ServiceName) -> Option<KnownProfile> {
        if let Some(p) = self.services.get(name) {
            return Some(KnownProfile {
                profile: p.clone(),
                configured: true,
            });
        }
        if self.infer_from_names {
            return Some(KnownProfile {
                profile: infer_profile(name),
                configured: false,
            });
        }
        None
    }

    /// The configured dependencies of a service (none are guessed).
    pub fn dependencies(&self, name: &ServiceName) -> &[ServiceName] {
        self.services
            .get(name)
            .map(|p| p.depends_on.as_slice())
            .unwrap_or(&[])
    }

    /// Whether the catalogue configures this service.
    pub fn knows(&self, name: &ServiceName) -> bool {
        self.services.contains_key(name)
    }
}

/// The parts of a service name: `checkout-api.prod` → `checkout`, `api`, `prod`.
fn name_parts(name: &str) -> impl Iterator<Item = &str> {
    name.split(['-', '_', '.', '/', ':'])
        .filter(|p| !p.is_empty())
}

/// Guesses a profile from a name: revenue words make it critical (unless it is also clearly an
/// internal tool, like `payments-report`), front-door words make it critical, internal words make
/// it internal, anything else is standard. No user count is guessed.
fn infer_profile(name: &ServiceName) -> ServiceProfile {
    let s = name.as_str();
    let has = |words: &[&str]| name_parts(s).any(|p| words.contains(&p)) || words.contains(&s);
    let revenue = has(REVENUE_WORDS);
    let internal = has(INTERNAL_WORDS);
    let front = has(FRONT_DOOR_WORDS);
    match (revenue, internal, front) {
        (true, false, _) => ServiceProfile::new(ServiceTier::Critical).on_revenue_path(),
        (true, true, _) => ServiceProfile::new(ServiceTier::Standard),
        (false, true, _) => ServiceProfile::new(ServiceTier::Internal),
        (false, false, true) => ServiceProfile::new(ServiceTier::Critical),
        (false, false, false) => ServiceProfile::new(ServiceTier::Standard),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn svc(s: &str) -> ServiceName {
        ServiceName::parse(s).expect("valid test service name")
    }

    #[test]
    fn revenue_names_are_critical_revenue_paths_by_default() {
        let c = ServiceCatalog::default();
        for name in [
            "checkout",
            "payments-gateway",
            "billing-api",
            "auth",
            "cart",
            "orders-service",
        ] {
            let p = c.profile(&svc(name)).expect("inferred").profile;
            assert_eq!(p.tier, ServiceTier::Critical, "{name}");
            assert!(p.revenue_path, "{name}");
        }
    }

    #[test]
    fn a_word_inside_another_word_does_not_count() {
        let p = ServiceCatalog::default()
            .profile(&svc("author-service"))
            .expect("inferred")
            .profile;
        assert_eq!(p.tier, ServiceTier::Standard);
        assert!(!p.revenue_path);
    }

    #[test]
    fn internal_tools_are_internal_and_a_configured_entry_wins_over_the_name() {
        let c = ServiceCatalog::default();
        assert_eq!(
            c.profile(&svc("admin-dashboard"))
                .expect("inferred")
                .profile
                .tier,
            ServiceTier::Internal
        );
        assert_eq!(
            c.profile(&svc("payments-report"))
                .expect("inferred")
                .profile
                .tier,
            ServiceTier::Standard
        );
        let c = c.with_service(
            svc("admin-dashboard"),
            ServiceProfile::new(ServiceTier::Critical),
        );
        let known = c.profile(&svc("admin-dashboard")).expect("configured");
        assert!(known.configured);
        assert_eq!(known.profile.tier, ServiceTier::Critical);
    }

    #[test]
    fn a_catalogue_parses_from_json_and_can_turn_inference_off() {
        let c = ServiceCatalog::from_json(
            r#"{"services": {"Search": {"tier": "standard", "estimated_users": 1200, "depends_on": ["elastic"]}},
                "infer_from_names": false}"#,
        )
        .expect("valid catalogue");
        assert_eq!(
            c.profile(&svc("search"))
                .expect("configured")
                .profile
                .estimated_users,
            Some(1200)
        );
        assert_eq!(c.dependencies(&svc("search")), &[svc("elastic")]);
        assert!(c.profile(&svc("checkout")).is_none());
    }
}
