//! A seeded, reproducible history of one district (示范区) for demonstrations, tests and
//! benchmarks: communities of the three kinds with grids, dated populations and yearly control
//! indicators (控制指标); enterprises with supervision grades and enforcement actions; thousands
//! of hazards (隐患) from report to closure (销号) — general and major, some listed for supervision
//! (挂牌督办), some late, some reopened after a failed verification, some still open and overdue
//! at the end; hundreds of incidents (事故) across the catalog's categories with investigations
//! and the four don't-let-go (四不放过), a few of grade 较大, some with conditions still missing;
//! injury surveillance records; and safety-promotion projects (安全促进项目) with interventions and
//! before/after figures.
//!
//! The output is a list of JSON command envelopes exactly as a host sends them to
//! [`crate::engine::Engine::execute_json`], in the order they must be executed (only the order
//! within each stream matters to the domain, so a host may run streams in parallel; the log's
//! order, and so its head hash, then depends on scheduling). Every command is built as a typed
//! value of the domain's commands ([`Command`], e.g. `HazardCommand::Report(ReportHazard { … })`)
//! and its envelope ([`CommandEnvelope`]) serialized with serde, so a command field renamed or
//! retyped in the domain is a compile error here, not a refusal when the demo runs.
//!
//! Running it: the engine refuses an `issued_at` more than 5 minutes after its clock, so an `end`
//! in the future needs [`crate::engine::Engine::with_clock`]. Entity ids are fixed (`c01`,
//! `hz-00001`, `inc-0001`, …): executing the same history twice finds every command already
//! carried out (idempotent); a history of another seed collides with it (`already_exists`).
//!
//! Invariants:
//! - Pure and deterministic: the same [`DemoConfig`] gives byte-identical commands. The module
//!   reads no clock, uses its own seeded generator and only ordered containers; command ids are
//!   UUIDs derived from the seed and the command's index.
//! - Commands are sorted by `issued_at` (ties keep generation order); no command is issued after
//!   [`DemoHistory::as_of`] (the last second of `end`, China Standard Time). Within each stream the
//!   commands follow each other in time, so dropping what lies after `as_of` leaves every stream
//!   a consistent prefix of its story — that is how hazards end up open and overdue.
//! - Every command is meant to be accepted by the domain, except the ones listed in
//!   [`DemoHistory::refusal_indices`]: a major-hazard order lacking 五到位 items, a rectifier trying
//!   to verify their own work, an incident closed while 四不放过 conditions are missing. Each of
//!   those is refused by a domain rule (a `Rejection`), never by the schema.
//! - Domain rules are respected by construction: facts never lie after the command that states
//!   them, deadlines follow orders, the verifier is never the rectifier, investigations are
//!   opened at the level the grade calls for, interventions are implemented after being planned.
//! - Nothing on the generation path panics: dates are clamped to a supported range
//!   (2003–2099), all picks are from non-empty lists, and ids are made by `id`, which leaves a
//!   record out rather than panic should an id ever be refused (none is: they are short ASCII).
//!
//! Layout: this file owns the configuration, the output and the draft machinery (the
//! generator's state, its time helpers, the drafts and how they become numbered envelopes). The
//! story is told one kind of record a file — `communities`, `enterprises`, `hazards`,
//! `incidents`, `injuries`, `projects`, `economy` (the KPI denominators) and `roles`
//! (the grants that open it) — from the words and figures in `data`, drawing from `rng`.

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, TimeZone, Utc};
use uuid::Uuid;

use self::data::{BUREAUS, GIVEN, SURNAMES};
use self::rng::Rng;
use crate::domain::{Command, CommandEnvelope};
use crate::events::community::CommunityKind;
use crate::events::EntityId;

mod communities;
mod data;
mod economy;
mod enterprises;
mod hazards;
mod incidents;
mod injuries;
mod projects;
mod rng;
mod roles;

/// What history to generate.
#[derive(Debug, Clone, PartialEq)]
pub struct DemoConfig {
    /// Seed of the generator: same seed, same history.
    pub seed: u64,
    /// Number of communities (1–99).
    pub communities: u32,
    /// The demo's "today" (CST): the history covers 1 January two years before, up to this day.
    pub end: NaiveDate,
    /// Multiplies the number of hazards, incidents, injury records and projects (1.0 = about
    /// 1,000 hazards, 150 incidents and 300 injury records a year). Kept within 0.001–10.
    pub scale: f64,
}

impl Default for DemoConfig {
    fn default() -> Self {
        Self { seed: 1, communities: 20, end: NaiveDate::from_ymd_opt(2026, 11, 30).unwrap_or_default(), scale: 1.0 }
    }
}

/// A generated history.
#[derive(Debug, Clone, PartialEq)]
pub struct DemoHistory {
    /// JSON command envelopes, in execution order (sorted by `issued_at`).
    pub commands: Vec<String>,
    /// The last instant of `end` (CST): no command is issued later; query the projections here.
    pub as_of: DateTime<Utc>,
    /// First day of the history (CST).
    pub first_day: NaiveDate,
    /// How many commands the story expects the domain to refuse.
    pub intended_refusals: usize,
    /// Indices into `commands` of those refusals, ascending.
    pub refusal_indices: Vec<usize>,
    /// Ids of the communities, in order.
    pub community_ids: Vec<String>,
}

/// Generates the district's history for `cfg`.
pub fn district_history(cfg: &DemoConfig) -> DemoHistory {
    let mut g = Gen::new(cfg);
    g.setup_communities();
    g.setup_enterprises();
    g.hazards();
    g.incidents();
    g.injuries();
    g.projects();
    g.economy_and_work_logs(cfg.seed);
    g.finish(cfg.seed)
}

/// The district's administrator in the story (and a bureau supervisor).
pub const ADMIN: &str = "bureau-admin";

/// One command before it gets its id.
struct Draft {
    at: DateTime<Utc>,
    seq: u64,
    actor: EntityId,
    command: Command,
    refusal: bool,
}

struct Site {
    id: EntityId,
    kind: CommunityKind,
    population: u32,
    grids: Vec<EntityId>,
    enterprises: Vec<EntityId>,
    /// Hazards found here: (found at, id), in generation order.
    hazards: Vec<(DateTime<Utc>, EntityId)>,
}

/// An id of the story's making (`c01`, `hz-00001`, `grid-c01-g2`, …). They are short runs of
/// ASCII letters, digits and dashes, which [`EntityId`] always accepts; should one ever be
/// refused, the caller leaves out what it names rather than panic.
fn id(s: impl Into<String>) -> Option<EntityId> {
    EntityId::new(s).ok()
}

/// The instant `minutes` after midnight (CST) starting `day`.
fn cst(day: NaiveDate, minutes: i64) -> DateTime<Utc> {
    Utc.from_utc_datetime(&(day.and_time(NaiveTime::MIN) - Duration::hours(8))) + Duration::minutes(minutes)
}

fn day_of(t: DateTime<Utc>) -> NaiveDate {
    crate::events::time::cst_date(t)
}

/// A cursor through one stream's story: every step is at least a minute after the last.
struct Cursor(DateTime<Utc>);

impl Cursor {
    fn at(&mut self, target: DateTime<Utc>) -> DateTime<Utc> {
        self.0 = (self.0 + Duration::minutes(1)).max(target);
        self.0
    }
    fn after(&mut self, minutes: i64) -> DateTime<Utc> {
        let t = self.0 + Duration::minutes(minutes.max(1));
        self.at(t)
    }
}

struct Gen {
    rng: Rng,
    drafts: Vec<Draft>,
    seq: u64,
    start: NaiveDate,
    end: NaiveDate,
    as_of: DateTime<Utc>,
    scale: f64,
    n_sites: u32,
    sites: Vec<Site>,
    hazard_no: u32,
}

impl Gen {
    fn new(cfg: &DemoConfig) -> Self {
        let fallback = DemoConfig::default().end;
        let end = if (2003..=2099).contains(&cfg.end.year()) { cfg.end } else { fallback };
        let start = NaiveDate::from_ymd_opt(end.year() - 2, 1, 1).unwrap_or(end);
        let scale = if cfg.scale.is_finite() { cfg.scale.clamp(0.001, 10.0) } else { 1.0 };
        Gen {
            rng: Rng(cfg.seed ^ 0xA5A5_5A5A_0000_2024),
            drafts: Vec::new(),
            seq: 0,
            start,
            end,
            as_of: cst(end, 24 * 60) - Duration::seconds(1),
            scale,
            n_sites: cfg.communities.clamp(1, 99),
            sites: Vec::new(),
            hazard_no: 0,
        }
    }

    fn push(&mut self, at: DateTime<Utc>, actor: &str, command: Command, refusal: bool) {
        if at > self.as_of {
            return;
        }
        let Some(actor) = id(actor) else { return };
        self.seq += 1;
        self.drafts.push(Draft { at, seq: self.seq, actor, command, refusal });
    }

    /// A command the story means the domain to accept.
    fn emit(&mut self, at: DateTime<Utc>, actor: &str, command: impl Into<Command>) {
        self.push(at, actor, command.into(), false);
    }

    /// A command the story means the domain to refuse (listed in `refusal_indices`).
    fn refuse(&mut self, at: DateTime<Utc>, actor: &str, command: impl Into<Command>) {
        self.push(at, actor, command.into(), true);
    }

    fn scaled(&self, base: f64) -> usize {
        (base * self.scale).round().max(0.0) as usize
    }

    fn span_days(&self) -> i64 {
        (self.end - self.start).num_days() + 1
    }

    /// A day of the history after the set-up days (communities and enterprises exist by then).
    fn random_day(&mut self) -> NaiveDate {
        let n = self.span_days();
        self.start + Duration::days(self.rng.range(3.min(n - 1), n - 1))
    }

    fn person(&mut self) -> String {
        format!("{}{}", self.rng.pick(&SURNAMES, "王"), self.rng.pick(&GIVEN, "伟"))
    }

    fn bureau(&mut self) -> &'static str {
        self.rng.pick(&BUREAUS, "bureau-01")
    }

    /// A community drawn by population.
    fn random_site(&mut self) -> usize {
        let w: Vec<u64> = self.sites.iter().map(|s| u64::from(s.population)).collect();
        self.rng.weighted(&w)
    }

    fn finish(mut self, seed: u64) -> DemoHistory {
        self.grant_roles();
        self.drafts.sort_by(|a, b| a.at.cmp(&b.at).then(a.seq.cmp(&b.seq)));
        let mut commands = Vec::with_capacity(self.drafts.len());
        let mut refusal_indices = Vec::new();
        for (i, d) in self.drafts.into_iter().enumerate() {
            if d.refusal {
                refusal_indices.push(i);
            }
            let envelope = CommandEnvelope {
                command_id: command_id(seed, i as u64),
                actor: d.actor,
                issued_at: d.at,
                correlation_id: None,
                causation_id: None,
                command: d.command,
            };
            // Strings, numbers, dates and enums: serializing them cannot fail. Were it to, the
            // empty line keeps every other command at its index, and a host refuses it as
            // malformed.
            commands.push(serde_json::to_string(&envelope).unwrap_or_default());
        }
        DemoHistory {
            commands,
            as_of: self.as_of,
            first_day: self.start,
            intended_refusals: refusal_indices.len(),
            refusal_indices,
            community_ids: self.sites.iter().map(|s| s.id.to_string()).collect(),
        }
    }
}

/// The command id of the `index`-th command of the history of `seed`.
fn command_id(seed: u64, index: u64) -> Uuid {
    let mut h = blake3::Hasher::new();
    h.update(b"anquan.demo.command-id.v1");
    h.update(&seed.to_le_bytes());
    h.update(&index.to_le_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&h.finalize().as_bytes()[..16]);
    uuid::Builder::from_custom_bytes(bytes).into_uuid()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_ids_differ_by_seed_and_index() {
        assert_ne!(command_id(1, 0), command_id(1, 1));
        assert_ne!(command_id(1, 0), command_id(2, 0));
        assert_eq!(command_id(3, 4), command_id(3, 4));
    }

    #[test]
    fn cst_midnight_is_sixteen_hundred_utc_the_day_before() {
        let d = NaiveDate::from_ymd_opt(2025, 3, 1).unwrap();
        assert_eq!(cst(d, 0).to_rfc3339(), "2025-02-28T16:00:00+00:00");
        assert_eq!(day_of(cst(d, 24 * 60 - 1)), d);
    }
}
