//! A pager that records pages and can be told to fail or to be unconfigured.

use std::sync::Mutex;

use async_trait::async_trait;
use iras_core::ports::{PageError, Pager};
use iras_core::{Incident, IncidentId};

use super::lock;

/// How a [`RecordingPager`] answers.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum PagerMode {
    /// Pages go out.
    #[default]
    Succeed,
    /// Every page fails with this reason.
    Fail(String),
    /// No pager is configured.
    NotConfigured,
}

/// One call made to a [`RecordingPager`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    /// The incident paged about.
    pub incident_id: IncidentId,
    /// Why.
    pub reason: String,
    /// Whether the page went out.
    pub sent: bool,
}

/// A [`Pager`] that records every attempt and answers as its [`PagerMode`] says. References are
/// `PAGE-1`, `PAGE-2`… in order of pages sent.
#[derive(Debug, Default)]
pub struct RecordingPager {
    mode: Mutex<PagerMode>,
    attempts: Mutex<Vec<Page>>,
}

impl RecordingPager {
    /// A pager whose pages go out.
    pub fn new() -> Self {
        Self::default()
    }

    /// A pager whose pages fail with `reason`.
    pub fn failing(reason: impl Into<String>) -> Self {
        Self::with_mode(PagerMode::Fail(reason.into()))
    }

    /// A pager that is not configured.
    pub fn not_configured() -> Self {
        Self::with_mode(PagerMode::NotConfigured)
    }

    /// A pager in `mode`.
    pub fn with_mode(mode: PagerMode) -> Self {
        Self {
            mode: Mutex::new(mode),
            attempts: Mutex::default(),
        }
    }

    /// Changes how later pages are answered.
    pub fn set_mode(&self, mode: PagerMode) {
        *lock(&self.mode) = mode;
    }

    /// The pages that went out, in order.
    pub fn pages(&self) -> Vec<Page> {
        lock(&self.attempts)
            .iter()
            .filter(|p| p.sent)
            .cloned()
            .collect()
    }

    /// Every attempt, sent or not, in order.
    pub fn attempts(&self) -> Vec<Page> {
        lock(&self.attempts).clone()
    }
}

#[async_trait]
impl Pager for RecordingPager {
    async fn page(&self, incident: &Incident, reason: &str) -> Result<String, PageError> {
        let mode = lock(&self.mode).clone();
        let sent = mode == PagerMode::Succeed;
        let mut attempts = lock(&self.attempts);
        attempts.push(Page {
            incident_id: incident.id,
            reason: reason.to_owned(),
            sent,
        });
        match mode {
            PagerMode::Succeed => {
                let n = attempts.iter().filter(|p| p.sent).count();
                Ok(format!("PAGE-{n}"))
            }
            PagerMode::Fail(why) => Err(PageError::Failed(why)),
            PagerMode::NotConfigured => Err(PageError::NotConfigured),
        }
    }
}
