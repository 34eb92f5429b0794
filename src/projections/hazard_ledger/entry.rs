//! One hazard as the ledger keeps it ([`HazardEntry`], with its listing for supervision) and
//! one enforcement action ([`Penalty`]): the rows of the state, and what each contributes to the
//! indexes and the rectification series.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::events::enterprise::EnforcementAction;
use crate::events::hazard::SupervisionLevel;
use crate::events::time::{cst_date, end_of_cst_day};

/// Grade key for hazards not graded yet.
pub const UNGRADED: &str = "ungraded";
/// Enterprise key for hazards not tied to an enterprise.
pub const NO_ENTERPRISE: &str = "-";

/// One hazard as the ledger keeps it (台账条目).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HazardEntry {
    pub hazard_id: String,
    pub community_id: String,
    pub enterprise_id: Option<String>,
    pub category: String,
    #[serde(with = "crate::projections::state_codec::utc")]
    pub found_at: DateTime<Utc>,
    /// Grade code, once graded (分级).
    pub grade: Option<String>,
    /// 重大事故隐患
    pub major: bool,
    /// Deadline in force (限期), after extensions.
    #[serde(default, with = "crate::projections::state_codec::date_opt")]
    pub deadline: Option<NaiveDate>,
    /// Deadline of the original order.
    #[serde(default, with = "crate::projections::state_codec::date_opt")]
    pub original_deadline: Option<NaiveDate>,
    pub extensions: u32,
    /// 挂牌督办: level, by whom, when.
    pub listed: Option<Listing>,
    pub failed_verifications: u32,
    /// Codes of the five (五到位) missing from the rectification order, in canonical order.
    pub five_in_place_missing: Vec<String>,
    /// 销号: when the hazard was closed.
    #[serde(default, with = "crate::projections::state_codec::utc_opt")]
    pub closed_at: Option<DateTime<Utc>>,
    /// Applications to close and their on-site checks, in log order.
    pub closure_checks: Vec<ClosureCheck>,
}

/// An application to close a listed or suspended major hazard and the bureau's on-site check
/// of it (SAWS Order 16 art. 18).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClosureCheck {
    #[serde(with = "crate::projections::state_codec::utc")]
    pub applied_at: DateTime<Utc>,
    /// The check is due by the end of this CST day.
    #[serde(with = "crate::projections::state_codec::date")]
    pub check_due: NaiveDate,
    #[serde(default, with = "crate::projections::state_codec::utc_opt")]
    pub checked_at: Option<DateTime<Utc>>,
    pub passed: bool,
    /// Checked after the due day ended.
    pub late: bool,
}

/// A listing for supervision (挂牌督办).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Listing {
    pub level: SupervisionLevel,
    pub listed_by: String,
    #[serde(with = "crate::projections::state_codec::utc")]
    pub listed_at: DateTime<Utc>,
}

impl HazardEntry {
    /// Which rectification series the hazard counts in: all, major, listed.
    pub(super) fn series(&self) -> [bool; SERIES] {
        [true, self.major, self.listed.is_some()]
    }

    /// The names it counts under while open: grade, community, category, enterprise.
    pub(super) fn open_names(&self) -> [&str; 4] {
        [
            self.grade.as_deref().unwrap_or(UNGRADED),
            &self.community_id,
            &self.category,
            self.enterprise_id.as_deref().unwrap_or(NO_ENTERPRISE),
        ]
    }

    /// Its flags in the bucket of its deadline `d`: due per series, then closed on time per series.
    pub(super) fn due_flags(&self, d: NaiveDate) -> [bool; 2 * SERIES] {
        let [all, major, listed] = self.series();
        let on_time = self.closed_on_or_before(d);
        [all, major, listed, on_time && all, on_time && major, on_time && listed]
    }

    pub(super) fn closed_by(&self, at: DateTime<Utc>) -> bool {
        self.closed_at.is_some_and(|c| c <= at)
    }

    pub(super) fn closed_on_or_before(&self, day: NaiveDate) -> bool {
        self.closed_at.is_some_and(|c| cst_date(c) <= day)
    }

    /// 逾期 at `at`.
    pub fn is_overdue(&self, at: DateTime<Utc>) -> bool {
        match self.deadline.and_then(end_of_cst_day) {
            Some(end) => at >= end && !self.closed_by(at),
            None => false,
        }
    }
}

/// An enforcement action (执法处罚) against an enterprise, as the ledger keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Penalty {
    pub action: EnforcementAction,
    #[serde(with = "crate::projections::state_codec::date")]
    pub decided_on: NaiveDate,
    pub hazard_id: Option<String>,
}

/// Series of the rectification figures: all, major (重大), listed (挂牌督办).
pub(super) const SERIES: usize = 3;

#[cfg(test)]
impl HazardEntry {
    /// A general, ungraded fire hazard of community c1 found (and closed) at these RFC 3339
    /// instants (tests).
    pub(super) fn sample(id: &str, found: &str, closed: Option<&str>) -> Self {
        Self {
            hazard_id: id.to_string(),
            community_id: "c1".to_string(),
            enterprise_id: None,
            category: "fire".to_string(),
            found_at: found.parse().unwrap(),
            grade: None,
            major: false,
            deadline: None,
            original_deadline: None,
            extensions: 0,
            listed: None,
            failed_verifications: 0,
            five_in_place_missing: Vec::new(),
            closed_at: closed.map(|c| c.parse().unwrap()),
            closure_checks: Vec::new(),
        }
    }
}
