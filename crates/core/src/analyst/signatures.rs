//! Error signatures: what a log line says went wrong (memory, connection pool, disk, certificate,
//! configuration, bad data, a failing dependency, a node or zone, a code defect), and which
//! dependency it names.
//!
//! Log text is untrusted: it is only matched against fixed patterns here, and what comes out is
//! a signature id, a byte range to quote, or a name that passed [`ServiceName::parse`].

use std::sync::OnceLock;

use regex::Regex;

use crate::analyst::text::{around, prefix, QUOTE_LIMIT, SCAN_LIMIT};
use crate::analyst::triage::unreachable_regex;
use crate::ids::ServiceName;
use crate::model::{LogTemplate, RootCauseCategory};

/// What ran out, for resource exhaustion.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Resource {
    /// Memory (OOM kills, heap).
    Memory,
    /// Connection pools, database connection slots.
    Connections,
    /// Disk space.
    Disk,
    /// CPU.
    Cpu,
    /// File descriptors.
    FileDescriptors,
    /// Worker threads.
    Threads,
}

impl Resource {
    /// A short noun for prose.
    pub(crate) fn noun(self) -> &'static str {
        match self {
            Self::Memory => "memory",
            Self::Connections => "connections",
            Self::Disk => "disk space",
            Self::Cpu => "CPU",
            Self::FileDescriptors => "file descriptors",
            Self::Threads => "worker threads",
        }
    }
}

/// The finer kind of a signature, which decides how it interacts with other evidence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Kind {
    /// Something ran out.
    Resource(Resource),
    /// TLS or certificate failure.
    Tls,
    /// Configuration could not be loaded or is invalid.
    Config,
    /// Bad input data.
    Data,
    /// A dependency answered with an error, refused or reset connections, or a breaker opened.
    Upstream,
    /// An operation timed out (generic unless a dependency is named).
    Timeout,
    /// Requests are being rate-limited or shed.
    RateLimit,
    /// A node or host failed.
    Node,
    /// A zone or region failed.
    Zone,
    /// Network or DNS failure.
    Network,
    /// Storage failure (read-only file system, I/O errors).
    Storage,
    /// A crash or unhandled exception: points at code, so at a change, never on its own.
    CodeDefect,
}

impl Kind {
    /// Whether a code change can plausibly cause this signature. Certificates expiring, disks
    /// filling, nodes failing and traffic rising happen to code, not because of it.
    pub(crate) fn change_can_cause(self) -> bool {
        matches!(
            self,
            Self::Resource(
                Resource::Memory
                    | Resource::Connections
                    | Resource::Cpu
                    | Resource::FileDescriptors
                    | Resource::Threads
            ) | Self::Config
                | Self::Data
                | Self::Timeout
                | Self::CodeDefect
                | Self::Upstream
        )
    }
}

/// One known signature.
#[derive(Debug)]
pub(crate) struct Signature {
    /// Stable id.
    pub id: &'static str,
    /// The category it points to (`Unknown` for code defects, which only support a change).
    pub category: RootCauseCategory,
    /// Its kind.
    pub kind: Kind,
    /// How strongly one matching template supports the category, in `[0, 1]`.
    pub weight: f64,
    /// Generic signatures are dropped from a template that also matched a specific one.
    pub generic: bool,
    /// A phrase for our own prose.
    pub describe: &'static str,
    pattern: &'static str,
}

macro_rules! sig {
    ($id:literal, $cat:ident, $kind:expr, $w:literal, $generic:literal, $desc:literal, $pat:literal) => {
        Signature {
            id: $id,
            category: RootCauseCategory::$cat,
            kind: $kind,
            weight: $w,
            generic: $generic,
            describe: $desc,
            pattern: $pat,
        }
    };
}

/// The catalogue. Patterns are case-insensitive and bounded (no nested repetition), so matching
/// untrusted text stays linear.
static SIGNATURES: &[Signature] = &[
    sig!(
        "oom",
        ResourceExhaustion,
        Kind::Resource(Resource::Memory),
        0.8,
        false,
        "out-of-memory kills",
        r"(?i)(out of memory|\boom[ -]?kill(?:ed|er)?\b|oomkilled|outofmemoryerror|cannot allocate memory|memory limit (?:exceeded|reached)|java heap space|heap (?:space )?exhausted|memory cgroup out of memory|low on resource: memory|fatal error: runtime: out of memory|allocation failed)"
    ),
    sig!(
        "connection_pool",
        ResourceExhaustion,
        Kind::Resource(Resource::Connections),
        0.75,
        false,
        "connection pool exhaustion",
        r"(?i)(connection pool (?:is )?(?:exhausted|full|saturated|timed? ?out)|pool (?:is )?exhausted|connection is not available, request timed out|too many (?:connections|clients)|remaining connection slots are reserved|(?:could not|unable to|failed to|cannot) (?:obtain|acquire|get|checkout|check out) (?:a )?(?:new )?(?:db |database |pooled )?connection|queuepool limit|max(?:imum)? (?:number of )?connections (?:reached|exceeded)|no (?:available|free|idle) connections|timeout waiting for (?:a )?(?:idle |free )?connection|pool (?:wait|acquire) timeout)"
    ),
    sig!(
        "file_descriptors",
        ResourceExhaustion,
        Kind::Resource(Resource::FileDescriptors),
        0.7,
        false,
        "file descriptor exhaustion",
        r"(?i)(too many open files|\bemfile\b|file descriptors? (?:limit|exhausted))"
    ),
    sig!(
        "threads",
        ResourceExhaustion,
        Kind::Resource(Resource::Threads),
        0.6,
        false,
        "worker thread exhaustion",
        r"(?i)(thread pool (?:is )?(?:exhausted|full|saturated)|rejectedexecutionexception|unable to create (?:new )?native thread|worker pool (?:is )?(?:exhausted|full)|all workers (?:are )?busy)"
    ),
    sig!(
        "disk_full",
        ResourceExhaustion,
        Kind::Resource(Resource::Disk),
        0.85,
        false,
        "a full disk",
        r"(?i)(no space left on device|\benospc\b|disk (?:is )?full|disk quota exceeded|insufficient disk space|could not extend file|(?:file ?system|volume|partition) [^\n]{0,40}\bis full\b|low on resource: ephemeral-storage|disk ?pressure|flood[- ]stage (?:disk )?watermark|disk usage exceeded|read-only-allow-delete)"
    ),
    sig!(
        "cpu",
        ResourceExhaustion,
        Kind::Resource(Resource::Cpu),
        0.4,
        false,
        "CPU saturation",
        r"(?i)(cpu throttl\w*|throttled cpu|cpu (?:usage|utili[sz]ation) (?:at|above|over) \d)"
    ),
    sig!(
        "certificate_expired",
        CertificateExpiry,
        Kind::Tls,
        0.9,
        false,
        "an expired TLS certificate",
        r"(?i)(x509: certificate has expired|certificate (?:has )?expired|certificate is expired|cert(?:ificate)? (?:has )?expired|\bcert_has_expired\b|expired certificate|certificate (?:is )?not yet valid|certificateexpiredexception|pkix path validation failed[^\n]{0,80}(?:expired|validity))"
    ),
    sig!(
        "tls_failure",
        CertificateExpiry,
        Kind::Tls,
        0.5,
        false,
        "TLS handshake failures",
        r"(?i)(x509: |certificate verify failed|tls: (?:bad certificate|handshake failure)|ssl handshake (?:failed|failure)|sslhandshakeexception|unable to get local issuer certificate|certificate signed by unknown authority|self[- ]signed certificate)"
    ),
    sig!(
        "config_error",
        ConfigChange,
        Kind::Config,
        0.6,
        false,
        "configuration errors",
        r"(?i)(invalid config(?:uration)?|config(?:uration)? (?:error|is invalid|invalid|validation failed)|failed to (?:load|parse|read|validate) (?:the )?(?:config|configuration|settings)|error (?:loading|parsing|reading) (?:config|configuration|settings)|unknown (?:config(?:uration)?|setting|option|property) (?:key|name)?|missing required (?:config(?:uration)?|setting|property|environment variable|env var)|environment variable \S+ (?:is )?(?:not set|missing|unset|empty)|yaml: (?:line \d+|unmarshal)|invalid value for (?:setting|option|key|parameter|property)|feature flag \S+ (?:misconfigured|invalid))"
    ),
    sig!(
        "data_error",
        DataIssue,
        Kind::Data,
        0.7,
        false,
        "bad data",
        r"(?i)(invalid input syntax|unexpected null|null value in column|must not be null|deseriali[sz]ation (?:failed|error)|(?:failed|unable) to deseriali[sz]e|(?:could not|cannot|can't) deseriali[sz]e|malformed (?:record|json|payload|input|message|row|csv|data|event)|schema (?:mismatch|validation failed|violation)|unexpected (?:token|end of (?:json )?input|character)|invalid (?:json|utf-?8|record|payload|byte sequence)|json ?parse ?(?:error|exception)|numberformatexception|poison(?:ed)? (?:message|pill|record)|violates (?:not-null|foreign key|check|unique) constraint|duplicate key value|value too long for type|out of range for type|corrupt(?:ed)? (?:record|data|message|file|block|row)|checksum mismatch|unknown enum value|missing required field)"
    ),
    sig!(
        "upstream_5xx",
        DependencyFailure,
        Kind::Upstream,
        0.6,
        false,
        "server errors from a dependency",
        r"(?i)(upstream [^\s]+ (?:returned|responded(?: with)?|status) (?:http |status )?5\d\d|\b5\d\d (?:from|returned by) [^\s]+|(?:returned|got|received|responded with) (?:status |http |code )?5\d\d|503 service unavailable|502 bad gateway|504 gateway time-?out|no healthy upstream|upstream connect error|upstream (?:request )?(?:failed|error|unavailable)|bad gateway|service unavailable)"
    ),
    sig!(
        "connection_refused",
        DependencyFailure,
        Kind::Upstream,
        0.5,
        true,
        "refused or reset connections",
        r"(?i)(connection refused|\beconnrefused\b|connection reset by peer|\beconnreset\b|broken pipe|unexpected eof|connection closed by (?:remote|peer|upstream))"
    ),
    sig!(
        "circuit_open",
        DependencyFailure,
        Kind::Upstream,
        0.6,
        false,
        "an open circuit breaker",
        r"(?i)(circuit[ -]?breaker (?:is )?(?:open|opened|tripped)|circuit (?:is )?open\b|breaker (?:open|tripped))"
    ),
    sig!(
        "timeout",
        DependencyFailure,
        Kind::Timeout,
        0.4,
        true,
        "timeouts",
        r"(?i)(timed? ?out|deadline exceeded|\betimedout\b|read timeout|i/o timeout|request timeout|sockettimeoutexception|gateway timeout)"
    ),
    sig!(
        "rate_limited",
        TrafficSurge,
        Kind::RateLimit,
        0.35,
        false,
        "rate limiting and load shedding",
        r"(?i)(429 too many requests|too many requests|rate limit(?:ed| exceeded| reached)|throttl(?:ed|ing) (?:request|traffic|client)|request queue (?:is )?(?:full|overflow)|load shedding|shedding load|queue (?:is )?full|backpressure|accept queue overflow|listen queue overflow)"
    ),
    sig!(
        "node_failure",
        Infrastructure,
        Kind::Node,
        0.65,
        false,
        "a failing node or host",
        r"(?i)(node [^\s]+ (?:is )?not ?ready|nodenotready|kernel panic|hardware (?:failure|error)|instance [^\s]* ?(?:failed|unreachable|terminated unexpectedly|retirement|impaired)|host [^\s]+ (?:is )?(?:down|unreachable)|kubelet (?:stopped|not responding|stopped posting node status)|node (?:lost|unreachable|failure|shutdown)|status check failed|node had condition|evicted from node)"
    ),
    sig!(
        "zone_failure",
        Infrastructure,
        Kind::Zone,
        0.7,
        false,
        "a failing availability zone",
        r"(?i)(availability zone [^\s]+ (?:outage|degraded|impaired|unavailable)|\baz [^\s]+ (?:outage|degraded|impaired|unavailable)|zone outage|regional outage|az outage)"
    ),
    sig!(
        "network_failure",
        Infrastructure,
        Kind::Network,
        0.5,
        false,
        "network or DNS failures",
        r"(?i)(no route to host|network (?:is )?unreachable|\behostunreach\b|\benetunreach\b|packet loss|network partition|dns (?:resolution|lookup) (?:failed|error|timeout)|\bservfail\b|\bnxdomain\b|temporary failure in name resolution|could not resolve host|no such host)"
    ),
    sig!(
        "storage_failure",
        Infrastructure,
        Kind::Storage,
        0.6,
        false,
        "storage failures",
        r"(?i)(read-only file ?system|\berofs\b|input/output error|\beio\b|volume [^\s]+ (?:detached|unavailable|impaired|degraded)|\bebs\b[^\n]{0,30}(?:impaired|degraded|stuck)|i/o error|multi-attach error|already exclusively attached|experiencing degraded performance|\bawait [\d,.]+ ?ms\b)"
    ),
    sig!(
        "provider_event",
        Infrastructure,
        Kind::Storage,
        0.8,
        false,
        "an infrastructure event reported by the cloud provider",
        r"(?i)(\baws_(?:[a-z0-9]+_)*?(?:degraded|impaired|outage|issue|failure|retirement|unavailable|lost)(?:_[a-z0-9]+)*\b|aws health event|scheduled (?:instance )?retirement|underlying hardware|service health (?:incident|issue))"
    ),
    sig!(
        "code_defect",
        Unknown,
        Kind::CodeDefect,
        0.4,
        true,
        "crashes and unhandled exceptions",
        r"(?i)(panic:|panicked at|segmentation fault|\bsigsegv\b|nullpointerexception|null pointer dereference|typeerror:|attributeerror:|keyerror:|is not a function|cannot read propert(?:y|ies) of|unhandled (?:exception|rejection|error)|uncaught exception|traceback \(most recent call last\)|index out of (?:range|bounds)|classnotfoundexception|nosuchmethoderror|nosuchfielderror|undefined (?:method|symbol|function)|crashloopbackoff|back-off restarting failed container|assertion failed|500 internal server error|internal server error|illegalstateexception|illegalargumentexception)"
    ),
];

fn compiled() -> &'static [(&'static Signature, Regex)] {
    static RE: OnceLock<Vec<(&'static Signature, Regex)>> = OnceLock::new();
    RE.get_or_init(|| {
        SIGNATURES
            .iter()
            .map(|s| {
                (
                    s,
                    Regex::new(s.pattern).unwrap_or_else(|_| unreachable_regex()),
                )
            })
            .collect()
    })
}

/// A signature found in a template, with a verbatim quote of where it was found.
#[derive(Debug, Clone)]
pub(crate) struct SigMatch {
    /// The signature.
    pub sig: &'static Signature,
    /// A verbatim piece of a sample line (or of the template) around the match.
    pub quote: String,
}

/// The signatures of one log template. Samples are searched first, so the quote is an original
/// line; generic signatures are dropped when a specific one matched.
pub(crate) fn classify(t: &LogTemplate) -> Vec<SigMatch> {
    let mut out: Vec<SigMatch> = Vec::new();
    for (sig, re) in compiled() {
        let texts = t
            .samples
            .iter()
            .map(String::as_str)
            .chain(std::iter::once(t.template.as_str()));
        for text in texts {
            let text = prefix(text, SCAN_LIMIT);
            if let Some(m) = re.find(text) {
                out.push(SigMatch {
                    sig,
                    quote: around(text, m.start(), m.end(), QUOTE_LIMIT).to_owned(),
                });
                break;
            }
        }
    }
    if out
        .iter()
        .any(|m| !m.sig.generic && m.sig.kind != Kind::CodeDefect)
    {
        out.retain(|m| !m.sig.generic);
    }
    out
}

/// Looks a signature up by id (for tests and prose).
#[cfg(test)]
pub(crate) fn by_id(id: &str) -> Option<&'static Signature> {
    SIGNATURES.iter().find(|s| s.id == id)
}

/// Single-word dependencies common enough to accept without a `-`, `_` or `.` in the name.
const WELL_KNOWN_DEPENDENCIES: &[&str] = &[
    "redis",
    "postgres",
    "postgresql",
    "mysql",
    "mariadb",
    "mongodb",
    "mongo",
    "kafka",
    "rabbitmq",
    "elasticsearch",
    "opensearch",
    "memcached",
    "cassandra",
    "dynamodb",
    "s3",
    "sqs",
    "sns",
    "zookeeper",
    "etcd",
    "consul",
    "vault",
    "stripe",
    "adyen",
    "braintree",
    "paypal",
    "twilio",
    "sendgrid",
    "auth0",
    "okta",
    "database",
    "ldap",
    "nats",
    "clickhouse",
    "snowflake",
];

/// Words that the patterns below can capture but that are not services.
const NOT_SERVICES: &[&str] = &[
    "content-type",
    "keep-alive",
    "read-only",
    "non-blocking",
    "x-request-id",
    "user-agent",
    "time-out",
    "re-try",
    "e-mail",
    "pre-flight",
    "write-ahead",
    "on-call",
    "built-in",
    "localhost",
    "the",
    "upstream",
    "service",
    "server",
    "host",
    "request",
    "response",
    "error",
    "status",
    "unknown",
    "null",
    "none",
    "client",
    "remote",
    "peer",
    "socket",
    "queue",
    "health-check",
    "healthcheck",
    "readiness-probe",
    "liveness-probe",
    "x-forwarded-for",
];

fn dependency_res() -> &'static [Regex] {
    static RE: OnceLock<Vec<Regex>> = OnceLock::new();
    RE.get_or_init(|| {
        [
            r#"(?i)\bupstream(?:\s+service)?[\s:=]+["'`(\[]?(?:https?://)?([a-z0-9][a-z0-9._\-]*[a-z0-9])"#,
            r#"(?i)\b(?:calling|call(?:ing)?\s+to|calls\s+to|requests?\s+to|request\s+for|connect(?:ing|ion)?\s+to|connect\s+to|talking\s+to|reaching|contacting|querying|dependency|downstream|from|against|via)\s+(?:service\s+|host\s+|backend\s+)?["'`(\[]?(?:https?://)?([a-z0-9][a-z0-9._\-]*[a-z0-9])"#,
            r#"(?i)\b(?:circuit[ -]?breaker|breaker)\s+(?:\[|\(|"|')?([a-z0-9][a-z0-9._\-]*[a-z0-9])(?:\]|\)|"|')?\s+(?:is\s+)?(?:open|opened|tripped)"#,
            r#"(?i)\b(?:circuit[ -]?breaker|breaker)\s+(?:(?:is\s+)?(?:open|opened|tripped)\s+)?(?:for|on|to)\s+["'`]?([a-z0-9][a-z0-9._\-]*[a-z0-9])"#,
            r#"(?i)https?://([a-z0-9][a-z0-9.\-]*[a-z0-9])"#,
            r#"(?i)\b(?:lookup|resolve|resolving)\s+([a-z0-9][a-z0-9.\-]*[a-z0-9])"#,
            r#"\b([a-z][a-z0-9]*(?:[-_][a-z0-9]+)+)(?::\d+)?\s+(?:returned|responded|is unavailable|unavailable|timed out|is down|failed|refused|is not responding)"#,
        ]
        .into_iter()
        .map(|p| Regex::new(p).unwrap_or_else(|_| unreachable_regex()))
        .collect()
    })
}

/// Turns a captured host or name into a service name: ports and in-cluster DNS suffixes are
/// dropped (`payments.prod.svc.cluster.local:8080` → `payments`), IP addresses are refused, and a
/// bare word is accepted only when it is a known service or a well-known dependency.
fn normalise_dependency(raw: &str, known: &[ServiceName]) -> Option<ServiceName> {
    let host = raw
        .split([':', '/'])
        .next()
        .unwrap_or(raw)
        .trim_matches('.')
        .to_ascii_lowercase();
    if host.is_empty() || host.chars().all(|c| c.is_ascii_digit() || c == '.') {
        return None;
    }
    let is_known = |s: &str| known.iter().any(|k| k.as_str() == s);
    let first = host.split('.').next().unwrap_or(&host).to_owned();
    let name = if host.contains('.') {
        const IN_CLUSTER: &[&str] = &[
            ".svc.cluster.local",
            ".svc",
            ".cluster.local",
            ".internal",
            ".local",
            ".consul",
            ".lan",
        ];
        if is_known(&host) {
            host.clone()
        } else if is_known(&first) || IN_CLUSTER.iter().any(|s| host.ends_with(s)) {
            first
        } else {
            host.clone()
        }
    } else {
        host.clone()
    };
    if NOT_SERVICES.contains(&name.as_str()) || name.len() < 2 {
        return None;
    }
    let separated = name.contains(['-', '_', '.']);
    if !separated && !is_known(&name) && !WELL_KNOWN_DEPENDENCIES.contains(&name.as_str()) {
        return None;
    }
    ServiceName::parse(&name).ok()
}

/// The dependencies a log template names (from its samples, else its template), excluding the
/// services that wrote it. At most four, in order of appearance.
pub(crate) fn dependencies(t: &LogTemplate, known: &[ServiceName]) -> Vec<ServiceName> {
    let mut out: Vec<ServiceName> = Vec::new();
    let texts = t
        .samples
        .iter()
        .map(String::as_str)
        .chain(std::iter::once(t.template.as_str()));
    for text in texts {
        let text = prefix(text, SCAN_LIMIT);
        for re in dependency_res() {
            for c in re.captures_iter(text) {
                let Some(m) = c.get(1) else { continue };
                if let Some(name) = normalise_dependency(m.as_str(), known) {
                    if !t.services.contains(&name) && !out.contains(&name) && out.len() < 4 {
                        out.push(name);
                    }
                }
            }
        }
    }
    out
}

fn flag_name_re() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(r#"(?i)\b(?:feature[ _-]?flag|flag|kill[ _-]?switch|toggle)s?\b\s*[:=]?\s*["'`]?([a-z0-9][a-z0-9_.\-]{2,63})"#)
            .unwrap_or_else(|_| unreachable_regex())
    })
}

/// Feature flags named in text that look like a fallback or degradation switch (their name says
/// fallback, degraded, static, cache, safe mode, kill switch or bypass), strictly spelled.
pub(crate) fn fallback_flags(text: &str) -> Vec<String> {
    let text = prefix(text, SCAN_LIMIT);
    let mut out: Vec<String> = Vec::new();
    for c in flag_name_re().captures_iter(text) {
        let Some(m) = c.get(1) else { continue };
        let name = m
            .as_str()
            .trim_end_matches(['.', '-', '_'])
            .to_ascii_lowercase();
        let fallbackish = [
            "fallback",
            "degrad",
            "static",
            "cache",
            "safe",
            "kill",
            "bypass",
            "failover",
            "backup",
            "secondary",
            "defer",
            "graceful",
            "offline",
            "on_failure",
            "_failure",
            "-failure",
        ]
        .iter()
        .any(|w| name.contains(w));
        if fallbackish && name.len() >= 3 && !out.contains(&name) {
            out.push(name);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::LogLevel;
    use chrono::DateTime;

    fn tpl(service: &str, msg: &str) -> LogTemplate {
        let t = DateTime::from_timestamp(1_800_000_000, 0).unwrap_or_default();
        LogTemplate {
            template: crate::model::template_of(msg),
            level: LogLevel::Error,
            count: 1,
            services: vec![ServiceName::parse(service).expect("valid")],
            first_seen: t,
            last_seen: t,
            samples: vec![msg.to_owned()],
        }
    }

    fn ids(msg: &str) -> Vec<&'static str> {
        classify(&tpl("api", msg))
            .iter()
            .map(|m| m.sig.id)
            .collect()
    }

    #[test]
    fn well_known_failures_are_recognised() {
        assert_eq!(
            ids("x509: certificate has expired or is not yet valid"),
            vec!["certificate_expired", "tls_failure"]
        );
        assert_eq!(
            ids("write /var/lib/data/wal: No space left on device"),
            vec!["disk_full"]
        );
        assert_eq!(
            ids("Container api was OOMKilled (exit code 137)"),
            vec!["oom"]
        );
        assert!(
            ids("HikariPool-1 - Connection is not available, request timed out after 30000ms")
                .contains(&"connection_pool")
        );
        assert_eq!(
            ids("ERROR: invalid input syntax for type integer: \"N/A\""),
            vec!["data_error"]
        );
        assert_eq!(
            ids("failed to parse config: yaml: line 12: did not find expected key"),
            vec!["config_error"]
        );
    }

    #[test]
    fn a_generic_timeout_gives_way_to_a_specific_signature() {
        let got =
            ids("HikariPool-1 - Connection is not available, request timed out after 30000ms");
        assert!(!got.contains(&"timeout"), "{got:?}");
        assert_eq!(
            ids("GET /v1/charge: context deadline exceeded"),
            vec!["timeout"]
        );
    }

    #[test]
    fn quotes_are_verbatim_pieces_of_the_sample() {
        let msg = format!(
            "{} x509: certificate has expired {}",
            "a".repeat(400),
            "b".repeat(400)
        );
        let m = classify(&tpl("api", &msg));
        assert!(msg.contains(&m[0].quote));
        assert!(m[0].quote.len() <= QUOTE_LIMIT);
    }

    #[test]
    fn dependencies_are_parsed_from_log_lines_and_must_be_valid_service_names() {
        let known = [ServiceName::parse("inventory").expect("valid")];
        let deps = |m: &str| {
            dependencies(&tpl("checkout", m), &known)
                .into_iter()
                .map(|s| s.to_string())
                .collect::<Vec<_>>()
        };
        assert_eq!(
            deps("upstream payments-gateway returned 503 Service Unavailable"),
            vec!["payments-gateway"]
        );
        assert_eq!(
            deps(
                "GET http://inventory.prod.svc.cluster.local:8080/stock failed: connection refused"
            ),
            vec!["inventory"]
        );
        assert_eq!(
            deps("dial tcp: lookup redis-cache on 10.0.0.10:53: no such host"),
            vec!["redis-cache"]
        );
        assert_eq!(
            deps("circuit breaker OPEN for fraud-scoring after 20 failures"),
            vec!["fraud-scoring"]
        );
        assert!(deps("error reading from socket: unexpected EOF").is_empty());
        assert!(deps("upstream `rm -rf /` returned 503").is_empty());
        assert!(
            deps("call to checkout failed").is_empty(),
            "a service does not depend on itself"
        );
    }

    #[test]
    fn fallback_flags_are_recognised_by_their_name() {
        assert_eq!(
            fallback_flags("payments degraded; enable flag payments-fallback-mode to queue orders"),
            vec!["payments-fallback-mode"]
        );
        assert!(fallback_flags("flag new-checkout-ui is on").is_empty());
    }

    #[test]
    fn every_signature_compiles() {
        for (sig, re) in compiled() {
            assert!(
                !re.is_match("definitely nothing here"),
                "{} matches anything",
                sig.id
            );
            assert!(by_id(sig.id).is_some());
            assert_ne!(re.as_str(), r"[^\s\S]", "{} failed to compile", sig.id);
        }
    }
}
