//! Regulation clocks and plausibility bounds ([`Settings`]): the clocks the regulations fix
//! (30/7 days, 1 hour, 60+60 days, 5 years, 1 year) as defaults a deployment may change. Events
//! record the values they were decided under, so a later change of settings never alters history.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Regulation clocks and plausibility bounds. Defaults are the values of DESIGN.md §3.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// Casualty changes within this many days of the accident are supplements (补报); art. 13.
    pub supplementary_days: u32,
    /// The same for road-traffic and fire accidents (categories with `short_window`).
    pub supplementary_days_short: u32,
    /// Missing persons (下落不明) count as deaths after this many days.
    pub missing_as_dead_days: u32,
    /// The same for road-traffic and fire accidents.
    pub missing_as_dead_days_short: u32,
    /// Unit head → county-level bureau within this many minutes (art. 9: 1 hour).
    pub report_limit_minutes: u32,
    /// Each level of bureaus passes an incident report up within this many minutes (art. 10–11:
    /// 2 hours per level).
    pub escalation_limit_minutes: u32,
    /// Investigation report due this many days after the accident (art. 29).
    pub investigation_days: u32,
    /// Longest single investigation extension (art. 29).
    pub investigation_extension_max_days: u32,
    /// How many extensions an investigation may have (art. 29: once).
    pub investigation_max_extensions: u32,
    /// The government signs off (批复) the investigation report within this many days of
    /// receiving it (art. 32: 15).
    pub sign_off_days: u32,
    /// The same for 特别重大 accidents (art. 32: 30).
    pub sign_off_days_extraordinary: u32,
    /// Longest extension of a 特别重大 accident's sign-off, granted once (art. 32: 30).
    pub sign_off_extension_max_days: u32,
    /// The bureau checks on site within this many days of an application to close a listed or
    /// suspended major hazard (SAWS Order 16 art. 18: 10).
    pub onsite_check_days: u32,
    /// A national safe community's title is re-assessed after this many years (复评).
    pub reassessment_years: u32,
    /// Post-closure evaluation due this many months after sign-off (Work Safety Law art. 86).
    pub evaluation_months: u32,
    /// Largest count of people accepted in one field.
    pub max_people: u32,
    /// Largest amount of yuan accepted in one field.
    pub max_yuan: u64,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            supplementary_days: 30,
            supplementary_days_short: 7,
            missing_as_dead_days: 30,
            missing_as_dead_days_short: 7,
            report_limit_minutes: 60,
            escalation_limit_minutes: 120,
            investigation_days: 60,
            investigation_extension_max_days: 60,
            investigation_max_extensions: 1,
            sign_off_days: 15,
            sign_off_days_extraordinary: 30,
            sign_off_extension_max_days: 30,
            onsite_check_days: 10,
            reassessment_years: 5,
            evaluation_months: 12,
            max_people: 100_000,
            max_yuan: 10_000_000_000_000,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_default_to_the_regulation_values() {
        let s = Settings::default();
        assert_eq!((s.supplementary_days, s.supplementary_days_short), (30, 7));
        assert_eq!(
            (s.investigation_days, s.investigation_extension_max_days, s.investigation_max_extensions),
            (60, 60, 1)
        );
        assert_eq!((s.report_limit_minutes, s.reassessment_years, s.evaluation_months), (60, 5, 12));
    }
}
