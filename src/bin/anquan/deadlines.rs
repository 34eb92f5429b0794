//! The regulation deadlines listed apart from the main tables: the bureau's on-site checks of
//! applications to close a listed or suspended major hazard (`anquan hazards --overdue-checks`); escalations late or missing
//! (逐级上报, `anquan incidents --late-escalations`), sign-offs late or missing (批复,
//! `--overdue-sign-offs`), and incidents closed in another system (外部结案, `--outside`). The flags choose which lists a person sees;
//! CSV picks any of them by `--table`, JSON holds them all. No figure is computed here.

use anquan::interface::query::{HazardsAnswer, IncidentsAnswer};

use crate::out::{Cell, Labels, Table};
use crate::views::china_time;

/// Which deadline lists `anquan incidents` prints besides the incidents.
#[derive(clap::Args, Debug, Clone, Copy, Default)]
pub struct IncidentLists {
    /// List escalations (逐级上报, 2 hours per level) late or missing on the reference date.
    #[arg(long)]
    pub late_escalations: bool,
    /// List sign-offs (批复, 15 days; 30 for 特别重大, extendable once) late or missing on the
    /// reference date.
    #[arg(long)]
    pub overdue_sign_offs: bool,
    /// List imported incidents closed in another system, their case file not held here (外部结案).
    #[arg(long)]
    pub outside: bool,
}

fn level_label(level: impl serde::Serialize, labels: &Labels) -> Cell {
    let code = serde_json::to_value(level).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default();
    let (en, zh) = match code.as_str() {
        "county" => ("county", "县级"),
        "city" => ("city", "设区的市级"),
        "province" => ("province", "省级"),
        "state_council" => ("State Council dept.", "国务院有关部门"),
        other => (other, other),
    };
    let label = labels.t(en, zh).to_string();
    Cell::code(code, label)
}

/// The deadline tables of an incidents answer, named for `--table`, those asked for (all of
/// them when `all`).
pub fn incident_tables(a: &IncidentsAnswer, lists: IncidentLists, all: bool, labels: &Labels) -> Vec<Table> {
    let mut out = Vec::new();
    if all || lists.late_escalations {
        let mut t = Table::new(
            "late_escalations",
            [
                ("incident_id", labels.t("incident", "事故").to_string()),
                ("level", labels.t("to level", "上报至").to_string()),
                ("due", labels.t("due (China time)", "时限（北京时间）").to_string()),
                ("escalated_at", labels.t("escalated (China time)", "上报时间（北京时间）").to_string()),
                ("minutes_late", labels.t("minutes late", "超时分钟").to_string()),
            ],
        );
        for l in &a.late_escalations {
            t.row([
                Cell::plain(l.incident_id.clone()),
                level_label(l.level, labels),
                Cell::shown(china_time(l.due), l.due.to_rfc3339()),
                match l.escalated_at {
                    Some(e) => Cell::shown(china_time(e), e.to_rfc3339()),
                    None => Cell::code("", labels.t("not yet", "尚未上报")),
                },
                Cell::num(l.minutes_late),
            ]);
        }
        out.push(t.titled(format!(
            "{} {}",
            a.late_escalations.len(),
            labels.t("escalations late or missing (逐级上报超时)", "起逐级上报超时或未报")
        )));
    }
    if all || lists.overdue_sign_offs {
        let mut t = Table::new(
            "overdue_sign_offs",
            [
                ("incident_id", labels.t("incident", "事故").to_string()),
                ("due", labels.t("due (China time)", "批复时限（北京时间）").to_string()),
                ("signed_off_at", labels.t("signed off (China time)", "批复时间（北京时间）").to_string()),
                ("days_late", labels.t("days late", "超期天数").to_string()),
            ],
        );
        for l in &a.overdue_sign_offs {
            t.row([
                Cell::plain(l.incident_id.clone()),
                Cell::shown(china_time(l.due), l.due.to_rfc3339()),
                match l.signed_off_at {
                    Some(s) => Cell::shown(china_time(s), s.to_rfc3339()),
                    None => Cell::code("", labels.t("not yet", "尚未批复")),
                },
                Cell::num(l.days_late),
            ]);
        }
        out.push(t.titled(format!(
            "{} {}",
            a.overdue_sign_offs.len(),
            labels.t("sign-offs late or missing (批复超期)", "起批复超期或未批复")
        )));
    }
    if all || lists.outside {
        let mut t = Table::new(
            "closed_elsewhere",
            [
                ("incident_id", labels.t("incident", "事故").to_string()),
                ("occurred_on", labels.t("date", "日期").to_string()),
                ("community_id", labels.t("community", "社区").to_string()),
                ("category", labels.t("category", "类别").to_string()),
                ("closed_on", labels.t("closed there on", "外部结案日期").to_string()),
                ("held_by", labels.t("case file held by", "案卷存于").to_string()),
            ],
        );
        for l in &a.closed_elsewhere {
            t.row([
                Cell::plain(l.incident_id.clone()),
                Cell::plain(l.occurred_on.to_string()),
                Cell::plain(l.community_id.clone()),
                Cell::code(l.category.clone(), labels.category(&l.category)),
                Cell::plain(l.closed_on.map(|d| d.to_string()).unwrap_or_default()),
                Cell::plain(l.held_by.clone()),
            ]);
        }
        out.push(t.titled(format!(
            "{} {}",
            a.closed_elsewhere.len(),
            labels.t("closed elsewhere, evidence not held here (外部结案)", "起外部结案（案卷不在本库）")
        )));
    }
    out
}

/// Which deadline lists `anquan hazards` prints besides the ledger.
#[derive(clap::Args, Debug, Clone, Copy, Default)]
pub struct HazardLists {
    /// List the bureau's on-site checks (现场审查, 10 days after an application to close a listed
    /// or suspended major hazard) late or missing on the reference date.
    #[arg(long)]
    pub overdue_checks: bool,
}

/// The deadline tables of a hazards answer (see [`incident_tables`]).
pub fn hazard_tables(a: &HazardsAnswer, lists: HazardLists, all: bool, labels: &Labels) -> Vec<Table> {
    if !(all || lists.overdue_checks) {
        return Vec::new();
    }
    let mut t = Table::new(
        "overdue_checks",
        [
            ("hazard_id", labels.t("hazard", "隐患").to_string()),
            ("community_id", labels.t("community", "社区").to_string()),
            ("applied_at", labels.t("applied (China time)", "申请时间（北京时间）").to_string()),
            ("check_due", labels.t("check due", "审查期限").to_string()),
            ("checked_at", labels.t("checked (China time)", "审查时间（北京时间）").to_string()),
            ("days_overdue", labels.t("days over", "逾期天数").to_string()),
        ],
    );
    for c in &a.overdue_checks {
        t.row([
            Cell::plain(c.hazard_id.clone()),
            Cell::plain(c.community_id.clone()),
            Cell::shown(china_time(c.applied_at), c.applied_at.to_rfc3339()),
            Cell::plain(c.check_due.to_string()),
            match c.checked_at {
                Some(t) => Cell::shown(china_time(t), t.to_rfc3339()),
                None => Cell::code("", labels.t("not yet", "尚未审查")),
            },
            Cell::num(c.days_overdue),
        ]);
    }
    vec![t.titled(format!(
        "{} {}",
        a.overdue_checks.len(),
        labels.t("on-site checks late or missing (现场审查逾期)", "起现场审查逾期或未审查")
    ))]
}
