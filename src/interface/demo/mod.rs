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
//! order, and so its head hash, then depends on scheduling).
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
//!   (2003–2099) and all picks are from non-empty lists.

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, SecondsFormat, TimeZone, Utc};
use serde_json::{json, Value};
use uuid::Uuid;

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

// ---- generator -----------------------------------------------------------------------------

/// SplitMix64: small, fast, and the same on every platform.
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (0 when `n` is 0).
    fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            0
        } else {
            self.next_u64() % n
        }
    }

    /// Uniform in `lo..=hi` (`lo` when `hi < lo`).
    fn range(&mut self, lo: i64, hi: i64) -> i64 {
        if hi <= lo {
            lo
        } else {
            lo + self.below((hi - lo + 1) as u64) as i64
        }
    }

    fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    /// One element of a non-empty list.
    fn pick<T: Copy>(&mut self, xs: &[T], fallback: T) -> T {
        xs.get(self.below(xs.len() as u64) as usize).copied().unwrap_or(fallback)
    }

    /// An index drawn with the given weights (0 when all are zero).
    fn weighted(&mut self, weights: &[u64]) -> usize {
        let total: u64 = weights.iter().sum();
        let mut r = self.below(total);
        for (i, w) in weights.iter().enumerate() {
            if r < *w {
                return i;
            }
            r -= w;
        }
        0
    }
}

/// The district's administrator in the story (and a bureau supervisor).
pub const ADMIN: &str = "bureau-admin";

/// One command before it gets its id.
struct Draft {
    at: DateTime<Utc>,
    seq: u64,
    actor: String,
    body: Value,
    refusal: bool,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    UrbanStreet,
    RuralTown,
    EnterpriseLed,
}

impl Kind {
    fn code(self) -> &'static str {
        match self {
            Kind::UrbanStreet => "urban_street",
            Kind::RuralTown => "rural_town",
            Kind::EnterpriseLed => "enterprise_led",
        }
    }
}

struct Site {
    id: String,
    kind: Kind,
    population: u32,
    grids: Vec<String>,
    enterprises: Vec<String>,
    /// Hazards found here: (found at, id), in generation order.
    hazards: Vec<(DateTime<Utc>, String)>,
}

/// The instant `minutes` after midnight (CST) starting `day`.
fn cst(day: NaiveDate, minutes: i64) -> DateTime<Utc> {
    Utc.from_utc_datetime(&(day.and_time(NaiveTime::MIN) - Duration::hours(8))) + Duration::minutes(minutes)
}

fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn day_of(t: DateTime<Utc>) -> NaiveDate {
    crate::events::time::cst_date(t)
}

fn date(t: NaiveDate) -> String {
    t.format("%Y-%m-%d").to_string()
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

#[derive(Clone, Copy, PartialEq, Eq)]
enum Fate {
    /// Done, verified and closed within the deadline.
    OnTime,
    /// Done after the deadline, then closed.
    Late,
    /// Deadline extended with a reason, then closed.
    Extended,
    /// Verification failed (reopened); closed after a second round unless `stays_open`.
    Reopened { stays_open: bool },
    /// Never reported done: overdue once its deadline passes.
    Stalled,
}

struct HazardSpec {
    site: usize,
    found: DateTime<Utc>,
    category: &'static str,
    enterprise: Option<String>,
    major: bool,
    listed: Option<&'static str>,
    refused_order: bool,
    fate: Fate,
}

const SURNAMES: [&str; 16] =
    ["王", "李", "张", "刘", "陈", "杨", "赵", "黄", "周", "吴", "徐", "孙", "马", "朱", "胡", "郭"];
const GIVEN: [&str; 16] = [
    "建国", "秀英", "伟", "芳", "海燕", "志强", "丽", "军", "敏", "红梅", "国华", "静", "小平", "春生", "桂兰", "德明",
];
const URBAN_NAMES: [&str; 12] =
    ["城关", "东城", "西城", "南湖", "北苑", "新华", "人民路", "解放路", "滨江", "东风", "长安", "和平"];
const RURAL_NAMES: [&str; 10] = ["石桥", "柳河", "杨庄", "青山", "白沙", "桃源", "马集", "龙泉", "河口", "三里"];
const ENTERPRISE_NAMES: [&str; 6] = ["化工园区", "钢铁集团", "港务集团", "煤机集团", "经开区", "纺织集团"];
const BUREAUS: [&str; 4] = ["bureau-01", "bureau-02", "bureau-03", "bureau-04"];

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

    fn push(&mut self, at: DateTime<Utc>, actor: &str, body: Value, refusal: bool) {
        if at > self.as_of {
            return;
        }
        self.seq += 1;
        self.drafts.push(Draft { at, seq: self.seq, actor: actor.to_string(), body, refusal });
    }

    fn emit(&mut self, at: DateTime<Utc>, actor: &str, body: Value) {
        self.push(at, actor, body, false);
    }

    fn refuse(&mut self, at: DateTime<Utc>, actor: &str, body: Value) {
        self.push(at, actor, body, true);
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

    /// The district's roles (权限), decided before anything else happens: `bureau-admin` starts
    /// enforcing roles and grants every actor of the story the role its work needs, scoped to
    /// its community or enterprise where it has one. Derived from the actors' ids, so the same
    /// history always grants the same.
    fn grant_roles(&mut self) {
        let Some(first) = self.drafts.iter().map(|d| d.at).min() else { return };
        let at = first - Duration::minutes(1);
        let actors: std::collections::BTreeSet<String> = self.drafts.iter().map(|d| d.actor.clone()).collect();
        let mut access =
            vec![json!({"type": "access.enforce_roles", "actor_id": ADMIN, "reason": "示范区启用权限管理"})];
        let grant = |actor: &str, role: &str, scope: Value| json!({"type": "access.grant_role", "actor_id": actor, "role": role, "scope": scope, "reason": null});
        access.push(grant(ADMIN, "bureau_supervisor", json!("district")));
        for actor in actors.iter().filter(|a| a.as_str() != ADMIN) {
            let community = |rest: &str| json!({"community": rest.split('-').next().unwrap_or(rest)});
            let (role, scope) = if let Some(rest) = actor.strip_prefix("grid-") {
                ("grid_inspector", community(rest))
            } else if let Some(rest) = actor.strip_prefix("rect-") {
                ("grid_inspector", community(rest))
            } else if let Some(rest) = actor.strip_prefix("duty-") {
                ("community_committee", community(rest))
            } else if let Some(e) =
                actor.strip_prefix("officer-").or_else(|| actor.strip_prefix("safety-").filter(|e| e.starts_with('e')))
            {
                ("enterprise_safety_officer", json!({"enterprise": e}))
            } else if actor == "safety-officer" {
                ("enterprise_safety_officer", json!("district"))
            } else if actor.starts_with("bureau-") || actor == "city-safety-committee" {
                ("bureau_supervisor", json!("district"))
            } else if actor.starts_with("committee-") {
                ("community_committee", json!("district"))
            } else if actor == "investigation-office" {
                ("investigator", json!("district"))
            } else {
                // Hospitals, the CDC, traffic police, fire rescue, the 12345 hotline, statistics.
                ("partner_department", json!("district"))
            };
            access.push(grant(actor, role, scope));
        }
        let bodies: Vec<Draft> = access
            .into_iter()
            .map(|body| Draft { at, seq: 0, actor: ADMIN.to_string(), body, refusal: false })
            .collect();
        self.drafts.splice(0..0, bodies);
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
            let envelope = json!({
                "command_id": command_id(seed, i as u64).to_string(),
                "actor": d.actor,
                "issued_at": ts(d.at),
                "command": d.body,
            });
            commands.push(envelope.to_string());
        }
        DemoHistory {
            commands,
            as_of: self.as_of,
            first_day: self.start,
            intended_refusals: refusal_indices.len(),
            refusal_indices,
            community_ids: self.sites.iter().map(|s| s.id.clone()).collect(),
        }
    }

    // ---- communities -------------------------------------------------------------------

    fn setup_communities(&mut self) {
        let setup = self.start + Duration::days(1);
        let (mut urban, mut rural, mut ent) = (0usize, 0usize, 0usize);
        for i in 0..self.n_sites as usize {
            let kind = match i % 10 {
                2 | 4 | 7 => Kind::RuralTown,
                5 | 9 => Kind::EnterpriseLed,
                _ => Kind::UrbanStreet,
            };
            let name = |list: &[&str], n: usize, suffix: &str| {
                let base = list.get(n % list.len().max(1)).copied().unwrap_or("示范");
                if n < list.len() {
                    format!("{base}{suffix}")
                } else {
                    format!("{base}{}{suffix}", n / list.len().max(1) + 1)
                }
            };
            let (name, population) = match kind {
                Kind::UrbanStreet => {
                    urban += 1;
                    (name(&URBAN_NAMES, urban - 1, "街道"), self.rng.range(40_000, 95_000))
                }
                Kind::RuralTown => {
                    rural += 1;
                    let suffix = if rural % 2 == 0 { "乡" } else { "镇" };
                    (name(&RURAL_NAMES, rural - 1, suffix), self.rng.range(18_000, 45_000))
                }
                Kind::EnterpriseLed => {
                    ent += 1;
                    (name(&ENTERPRISE_NAMES, ent - 1, "社区"), self.rng.range(6_000, 18_000))
                }
            };
            let id = format!("c{:02}", i + 1);
            let population = population as u32;
            let mut cur = Cursor(cst(setup, 9 * 60 + i as i64 * 3));
            let t = cur.at(cur.0);
            self.emit(
                t,
                "committee-01",
                json!({
                    "type": "community.register", "community_id": id, "name": name, "kind": kind.code(),
                    "district": "示范区", "population": population,
                    "population_as_of": date(self.start - Duration::days(1)),
                }),
            );
            let mut grids = Vec::new();
            for g in 0..self.rng.range(3, 6) {
                let grid_id = format!("{id}-g{}", g + 1);
                let person = self.person();
                let t = cur.after(1);
                self.emit(
                    t,
                    "committee-01",
                    json!({
                        "type": "community.add_grid", "community_id": id, "grid_id": grid_id,
                        "name": format!("第{}网格", g + 1), "responsible_person": person,
                    }),
                );
                grids.push(grid_id);
            }
            self.sites.push(Site { id, kind, population, grids, enterprises: Vec::new(), hazards: Vec::new() });
            self.milestones(i, &mut cur);
            self.populations_and_indicators(i);
        }
    }

    /// The safe-community programme: some named long ago and re-assessed, some named during the
    /// history, some just started.
    fn milestones(&mut self, i: usize, cur: &mut Cursor) {
        let id = self.sites.get(i).map(|s| s.id.clone()).unwrap_or_default();
        let y0 = self.start.year();
        let d = |y: i32, m: u32, day: u32| NaiveDate::from_ymd_opt(y, m, day).unwrap_or_default();
        match i % 4 {
            0 => {
                let started = d(y0 - 6, 3, 1);
                let t = cur.after(1);
                self.emit(
                    t,
                    "committee-01",
                    json!({"type": "community.start_creation", "community_id": id, "started_on": date(started)}),
                );
                let t = cur.after(1);
                self.emit(t, "committee-01", json!({"type": "community.record_assessment", "community_id": id, "assessed_on": date(d(y0 - 5, 6, 1)), "assessor": "省安全社区评定组", "passed": true}));
                let named = d(y0 - 5, 11, 20);
                let t = cur.after(1);
                self.emit(t, "committee-01", json!({"type": "community.name_safe_community", "community_id": id, "named_on": date(named), "named_by": "国务院安委会办公室"}));
                let re = d(y0, 11, 25);
                self.emit(cst(re, 15 * 60), "committee-01", json!({"type": "community.record_reassessment", "community_id": id, "reassessed_on": date(re), "passed": true}));
            }
            1 => {
                let started = d(y0, 3, 15);
                self.emit(
                    cst(started, 10 * 60),
                    "committee-01",
                    json!({"type": "community.start_creation", "community_id": id, "started_on": date(started)}),
                );
                let assessed = d(y0 + 1, 5, 20);
                self.emit(cst(assessed, 16 * 60), "committee-01", json!({"type": "community.record_assessment", "community_id": id, "assessed_on": date(assessed), "assessor": "省安全社区评定组", "passed": true}));
                let named = d(y0 + 1, 9, 10);
                self.emit(cst(named, 10 * 60), "committee-01", json!({"type": "community.name_safe_community", "community_id": id, "named_on": date(named), "named_by": "国务院安委会办公室"}));
            }
            2 => {
                let started = d(y0 + 1, 4, 1);
                self.emit(
                    cst(started, 10 * 60),
                    "committee-01",
                    json!({"type": "community.start_creation", "community_id": id, "started_on": date(started)}),
                );
            }
            _ => {}
        }
    }

    /// Population revised every January; a control indicator set for every year.
    fn populations_and_indicators(&mut self, i: usize) {
        let Some(site) = self.sites.get(i) else { return };
        let (id, kind, mut population) = (site.id.clone(), site.kind, site.population);
        for year in self.start.year()..=self.end.year() {
            let jan = |day: u32| NaiveDate::from_ymd_opt(year, 1, day).unwrap_or_default();
            if year > self.start.year() {
                let change = match kind {
                    Kind::UrbanStreet => self.rng.range(5, 30),
                    Kind::RuralTown => self.rng.range(-20, 3),
                    Kind::EnterpriseLed => self.rng.range(-10, 10),
                };
                population = (i64::from(population) * (1000 + change) / 1000).max(1000) as u32;
                let as_of = jan(1) - Duration::days(1);
                self.emit(
                    cst(jan(8), 10 * 60 + i as i64),
                    "committee-01",
                    json!({"type": "community.revise_population", "community_id": id, "population": population, "as_of": date(as_of)}),
                );
            }
            // About 7.5 deaths per 100k a year at scale 1, tighter in the last year.
            let rate = if year == self.end.year() { 6.5 } else { 7.5 };
            let total = ((f64::from(population) * rate / 100_000.0) * self.scale).round().max(1.0) as u32;
            let share = |p: f64| ((f64::from(total) * p).round() as u32).clamp(1, total);
            let set_on = jan(10);
            self.emit(
                cst(set_on, 14 * 60 + i as i64),
                "bureau-admin",
                json!({
                    "type": "community.set_control_indicator", "community_id": id, "year": year, "total_deaths": total,
                    "per_category": [
                        {"category": "road_traffic", "deaths": share(0.45)},
                        {"category": "production", "deaths": share(0.2)},
                        {"category": "fire", "deaths": share(0.1)},
                    ],
                    "set_on": date(set_on), "set_by": "示范区安全生产委员会",
                }),
            );
        }
        if let Some(s) = self.sites.get_mut(i) {
            s.population = population;
        }
        // One grid changes hands in the middle of the history.
        let grid = self.sites.get(i).and_then(|s| s.grids.first().cloned());
        if let Some(grid_id) = grid {
            let person = self.person();
            let day = NaiveDate::from_ymd_opt(self.start.year() + 1, 6, 1).unwrap_or(self.start);
            self.emit(
                cst(day, 9 * 60 + i as i64),
                "committee-01",
                json!({"type": "community.assign_grid_responsible", "community_id": id, "grid_id": grid_id, "responsible_person": person}),
            );
        }
    }

    // ---- enterprises ---------------------------------------------------------------------

    fn setup_enterprises(&mut self) {
        let setup = self.start + Duration::days(2);
        for i in 0..self.sites.len() {
            let (site_id, kind) = match self.sites.get(i) {
                Some(s) => (s.id.clone(), s.kind),
                None => continue,
            };
            let (n, industries): (i64, &[&str]) = match kind {
                Kind::EnterpriseLed => {
                    (self.rng.range(5, 8), &["hazardous_chemicals", "metallurgy", "manufacturing", "transport"])
                }
                Kind::UrbanStreet => (self.rng.range(1, 3), &["commerce", "construction", "manufacturing", "other"]),
                Kind::RuralTown => (self.rng.range(2, 4), &["agriculture", "mining", "fireworks", "manufacturing"]),
            };
            let mut cur = Cursor(cst(setup, 9 * 60 + i as i64 * 10));
            for k in 0..n {
                let id = format!("e{}{:02}", site_id.trim_start_matches('c'), k + 1);
                let industry = self.rng.pick(industries, "other");
                let t = cur.after(1);
                self.emit(
                    t,
                    "bureau-admin",
                    json!({
                        "type": "enterprise.register", "enterprise_id": id, "community_id": site_id,
                        "name": format!("示范{}有限公司{}", industry_zh(industry), k + 1), "industry": industry,
                    }),
                );
                let grade = ["A", "B", "B", "C", "C", "D"][self.rng.below(6) as usize];
                let t = cur.after(1);
                self.emit(
                    t,
                    "bureau-admin",
                    json!({"type": "enterprise.assign_grade", "enterprise_id": id, "grade": grade, "effective_on": date(setup), "reason": "年度分级分类评定"}),
                );
                if self.rng.chance(0.25) {
                    let on = NaiveDate::from_ymd_opt(self.start.year() + 1, 7, 1).unwrap_or(setup);
                    let regrade = ["B", "C", "D"][self.rng.below(3) as usize];
                    self.emit(
                        cst(on, 10 * 60 + k),
                        "bureau-admin",
                        json!({"type": "enterprise.assign_grade", "enterprise_id": id, "grade": regrade, "effective_on": date(on), "reason": "隐患排查情况调整监管等级"}),
                    );
                }
                if let Some(s) = self.sites.get_mut(i) {
                    s.enterprises.push(id);
                }
            }
        }
    }

    // ---- KPI denominators ------------------------------------------------------------------

    /// GDP and workforce per community for each finished year (published in the spring after),
    /// and every enterprise's monthly hours with its work injury log. Drawn from a generator of
    /// their own, so the rest of the story is the same with or without them.
    fn economy_and_work_logs(&mut self, seed: u64) {
        let mut rng = Rng(seed ^ 0x6B70_6973_0000_0001);
        for year in self.start.year()..self.end.year() {
            let published = NaiveDate::from_ymd_opt(year + 1, 3, 20).unwrap_or(self.end);
            for i in 0..self.sites.len() {
                let Some((id, kind, population)) = self.sites.get(i).map(|s| (s.id.clone(), s.kind, s.population))
                else {
                    continue;
                };
                // GDP per head (万元) and the share of industrial, mining and commercial workers.
                let (per_head, workers_share) = match kind {
                    Kind::UrbanStreet => (rng.range(11, 16), 0.22),
                    Kind::RuralTown => (rng.range(5, 9), 0.15),
                    Kind::EnterpriseLed => (rng.range(16, 25), 0.45),
                };
                let gdp = u64::from(population) * per_head as u64;
                let workers = (f64::from(population) * workers_share) as u32;
                self.emit(
                    cst(published, 9 * 60 + i as i64),
                    "stats-bureau",
                    json!({
                        "type": "community.record_economy", "community_id": id, "year": year,
                        "gdp_10k_yuan": gdp, "workers": workers, "source": format!("示范区统计年鉴 {}", year + 1),
                    }),
                );
            }
        }
        let mut enterprises: Vec<String> = self.sites.iter().flat_map(|s| s.enterprises.iter().cloned()).collect();
        // A smaller district keeps work logs for fewer enterprises.
        enterprises.truncate(((enterprises.len() as f64) * self.scale.min(1.0)).ceil() as usize);
        let mut case_no = 0u32;
        for (k, id) in enterprises.iter().enumerate() {
            let mut headcount = rng.range(60, 900);
            let mut month = NaiveDate::from_ymd_opt(self.start.year(), self.start.month(), 1).unwrap_or(self.start);
            while let Some(next) = month.checked_add_months(chrono::Months::new(1)) {
                // Hours of a month are filed on the 5th of the next; the last month may not be yet.
                let filed = next + Duration::days(4);
                if filed > self.end {
                    break;
                }
                headcount = (headcount + rng.range(-15, 15)).max(20);
                let days = (next - month).num_days();
                let hours = (headcount * days * 8 * 5 / 7 * rng.range(90, 105) / 100) as u64;
                self.emit(
                    cst(filed, 9 * 60 + k as i64),
                    "safety-officer",
                    json!({
                        "type": "enterprise.record_work_hours", "enterprise_id": id, "year": month.year(),
                        "month": month.month(), "hours_worked": hours, "headcount": headcount,
                    }),
                );
                // About 2 recordable cases per 200,000 hours.
                let expected = hours as f64 * 2.0 / 200_000.0;
                let cases = (expected + rng.unit()).floor() as i64;
                for _ in 0..cases {
                    case_no += 1;
                    let on = month + Duration::days(rng.range(0, days - 1));
                    let (class, away, restricted) = match rng.below(10) {
                        0..=3 => ("days_away", rng.range(2, 60), 0),
                        4..=5 => ("restricted_or_transfer", 0, rng.range(3, 30)),
                        _ => ("other_recordable", 0, 0),
                    };
                    let what =
                        ["手部割伤", "搬运扭伤腰部", "滑倒摔伤", "机械挤压手指", "高处坠落轻伤"][rng.below(5) as usize];
                    self.emit(
                        cst(filed, 10 * 60 + k as i64),
                        "safety-officer",
                        json!({
                            "type": "enterprise.record_work_injury_case", "enterprise_id": id,
                            "case_id": format!("w{case_no:05}"), "occurred_on": date(on), "class": class,
                            "days_away": away, "restricted_days": restricted, "incident_id": null,
                            "description": what,
                        }),
                    );
                }
                month = next;
            }
        }
    }

    // ---- hazards ---------------------------------------------------------------------------

    fn hazards(&mut self) {
        let years = self.span_days() as f64 / 365.0;
        let n = self.scaled(1000.0 * years);
        // Storylines every history carries, whatever the scale.
        let y0 = self.start.year();
        let day = |y: i32, m: u32, d: u32| NaiveDate::from_ymd_opt(y, m, d).unwrap_or_default();
        let before_end = |days: i64| self.end - Duration::days(days);
        let forced = [
            (day(y0, 4, 10), true, Some("city"), true, Fate::OnTime),
            (before_end(130), true, Some("province"), false, Fate::Stalled),
            (day(y0 + 1, 3, 5), false, None, false, Fate::Reopened { stays_open: false }),
            (before_end(95), false, None, false, Fate::Stalled),
            (day(y0 + 1, 8, 20), true, Some("county"), true, Fate::Reopened { stays_open: true }),
            (day(y0 + 1, 5, 12), false, None, false, Fate::Extended),
        ];
        for (i, (found_day, major, listed, refused, fate)) in forced.into_iter().enumerate() {
            let site = i % self.sites.len().max(1);
            let enterprise = self.sites.get(site).and_then(|s| s.enterprises.first().cloned());
            let category = if major { "hazardous_chemicals" } else { "fire" };
            let found = cst(found_day, 10 * 60);
            let spec = HazardSpec { site, found, category, enterprise, major, listed, refused_order: refused, fate };
            self.hazard(spec);
        }
        for _ in forced.len()..n.max(forced.len()) {
            let spec = self.random_hazard();
            self.hazard(spec);
        }
    }

    fn random_hazard(&mut self) -> HazardSpec {
        let site = self.random_site();
        let d = self.random_day();
        let found = cst(d, self.rng.range(8 * 60, 17 * 60));
        let (kind, enterprises) =
            self.sites.get(site).map(|s| (s.kind, s.enterprises.clone())).unwrap_or((Kind::UrbanStreet, Vec::new()));
        let p_enterprise = if kind == Kind::EnterpriseLed { 0.8 } else { 0.35 };
        let enterprise = if !enterprises.is_empty() && self.rng.chance(p_enterprise) {
            enterprises.get(self.rng.below(enterprises.len() as u64) as usize).cloned()
        } else {
            None
        };
        let category = if enterprise.is_some() {
            let c = ["production", "hazardous_chemicals", "fire", "electricity", "special_equipment", "construction"];
            c[self.rng.weighted(&[35, 15, 20, 15, 10, 5])]
        } else {
            let c = ["fire", "electricity", "road_traffic", "construction", "public_place", "water", "home"];
            c[self.rng.weighted(&[35, 20, 15, 10, 8, 6, 6])]
        };
        let major = self.rng.chance(0.05);
        let listed = if major && self.rng.chance(0.45) {
            Some(["city", "city", "county", "province"][self.rng.below(4) as usize])
        } else {
            None
        };
        let refused_order = major && self.rng.chance(0.3);
        let r = self.rng.unit();
        let fate = if r < 0.80 {
            Fate::OnTime
        } else if r < 0.88 {
            Fate::Late
        } else if r < 0.93 {
            Fate::Extended
        } else if r < 0.97 {
            Fate::Reopened { stays_open: self.rng.chance(0.1) }
        } else {
            Fate::Stalled
        };
        HazardSpec { site, found, category, enterprise, major, listed, refused_order, fate }
    }

    /// One hazard's life; returns its id.
    fn hazard(&mut self, spec: HazardSpec) -> String {
        self.hazard_no += 1;
        let id = format!("hz-{:05}", self.hazard_no);
        let Some(site) = self.sites.get(spec.site) else { return id };
        let site_id = site.id.clone();
        let grid = site.grids.get(self.rng.below(site.grids.len() as u64) as usize).cloned();
        if let Some(s) = self.sites.get_mut(spec.site) {
            s.hazards.push((spec.found, id.clone()));
        }
        let (source, reporter_actor) = match (&spec.enterprise, self.rng.below(10)) {
            (Some(e), 0..=4) => ("enterprise_self_check", format!("safety-{e}")),
            (Some(_), _) | (None, 0..=1) => ("department_inspection", self.bureau().to_string()),
            (None, 2..=3) => ("resident_report", "hotline-12345".to_string()),
            (None, _) => ("grid_inspection", format!("grid-{}", grid.as_deref().unwrap_or(&site_id))),
        };
        let reporter = self.person();
        let (location, description) = hazard_text(spec.category, self.rng.below(3));
        let mut cur = Cursor(spec.found);
        let t = cur.after(self.rng.range(20, 180));
        self.emit(
            t,
            &reporter_actor,
            json!({
                "type": "hazard.report", "hazard_id": id, "source": source, "reporter": reporter,
                "community_id": site_id, "grid_id": grid, "enterprise_id": spec.enterprise,
                "category": spec.category, "location": location, "description": description, "found_at": ts(spec.found),
            }),
        );
        let grader = self.bureau();
        let t = cur.after(self.rng.range(60, 26 * 60));
        let grade = if spec.major {
            json!({"type": "hazard.grade", "hazard_id": id, "grade": "major", "criterion": "MEM-10", "criterion_version": "2023", "basis": "涉及重点监管危险化工工艺未实现自动化控制等情形"})
        } else {
            json!({"type": "hazard.grade", "hazard_id": id, "grade": "general", "criterion": "SAWS-16", "criterion_version": "2008", "basis": null})
        };
        self.emit(t, grader, grade);
        let responsible = match &spec.enterprise {
            Some(_) => "企业主要负责人",
            None => "社区安全员",
        };
        let rectifier = match &spec.enterprise {
            Some(e) => format!("officer-{e}"),
            None => format!("rect-{site_id}"),
        };
        let funds = if spec.major { self.rng.range(50_000, 2_000_000) } else { self.rng.range(500, 30_000) };
        let t = cur.after(self.rng.range(60, 30 * 60));
        let order_day = day_of(t);
        let deadline =
            order_day + Duration::days(if spec.major { self.rng.range(30, 90) } else { self.rng.range(7, 30) });
        let order = |funds: Option<i64>, plan: Option<&str>| {
            json!({
                "type": "hazard.order_rectification", "hazard_id": id, "responsible": responsible,
                "measures": "按整改方案限期整改", "funds_yuan": funds, "deadline": date(deadline), "contingency_plan": plan,
            })
        };
        if spec.refused_order {
            // The first order lacks funds (and sometimes the plan): refused, naming what is missing.
            let plan = if self.rng.chance(0.5) { Some("整改期间停用相关设施并专人值守") } else { None };
            self.refuse(t, grader, order(None, plan));
            let t = cur.after(self.rng.range(6 * 60, 26 * 60));
            self.emit(t, grader, order(Some(funds), Some("整改期间停用相关设施并专人值守")));
        } else {
            let plan = if spec.major || self.rng.chance(0.6) {
                Some("整改期间设置警示标志并专人看护")
            } else {
                None
            };
            self.emit(t, grader, order(Some(funds), plan));
        }
        let ordered_at = cur.0;
        if let Some(level) = spec.listed {
            let by = match level {
                "province" => "示范省人民政府安全生产委员会",
                "city" => "示范市人民政府安全生产委员会",
                _ => "示范区人民政府安全生产委员会",
            };
            let t = cur.after(self.rng.range(24 * 60, 5 * 24 * 60));
            self.emit(
                t,
                "city-safety-committee",
                json!({"type": "hazard.list_for_supervision", "hazard_id": id, "level": level, "listed_by": by}),
            );
        }
        if spec.major {
            if let Some(e) = &spec.enterprise {
                if self.rng.chance(0.4) {
                    let suspend = self.rng.chance(0.5);
                    let at = ordered_at + Duration::hours(3);
                    let body = if suspend {
                        json!({"type": "enterprise.take_enforcement_action", "enterprise_id": e, "action": "suspend_for_rectification",
                               "decided_on": date(day_of(at)), "decided_by": "示范区应急管理局", "decision_no": format!("示应急责改〔{}〕{}号", day_of(at).year(), self.hazard_no),
                               "reason": "存在重大事故隐患", "hazard_id": id, "fine_yuan": null})
                    } else {
                        json!({"type": "enterprise.take_enforcement_action", "enterprise_id": e, "action": "fine",
                               "decided_on": date(day_of(at)), "decided_by": "示范区应急管理局", "decision_no": format!("示应急罚〔{}〕{}号", day_of(at).year(), self.hazard_no),
                               "reason": "重大事故隐患未及时消除", "hazard_id": id, "fine_yuan": self.rng.range(20_000, 200_000)})
                    };
                    self.emit(at, "bureau-admin", body);
                }
            }
            let t = cur.after(self.rng.range(3 * 24 * 60, 10 * 24 * 60));
            self.emit(t, &rectifier, json!({"type": "hazard.note_progress", "hazard_id": id, "note": "整改方案已报备，资金已落实，正在施工"}));
        }
        let deadline_end = cst(deadline, 17 * 60);
        let verifier = self.bureau();
        match spec.fate {
            Fate::Stalled => {
                let t = cur.after(self.rng.range(2 * 24 * 60, 6 * 24 * 60));
                self.emit(
                    t,
                    &rectifier,
                    json!({"type": "hazard.note_progress", "hazard_id": id, "note": "整改资金未到位，进度滞后"}),
                );
            }
            Fate::OnTime | Fate::Late | Fate::Extended => {
                let mut due = deadline_end;
                if spec.fate == Fate::Extended {
                    let t = cur.at(deadline_end - Duration::days(2));
                    let new_deadline = deadline + Duration::days(self.rng.range(15, 30));
                    self.emit(t, grader, json!({"type": "hazard.extend_deadline", "hazard_id": id, "new_deadline": date(new_deadline), "reason": "设备采购周期长，申请延期"}));
                    due = cst(new_deadline, 17 * 60);
                }
                let done = if spec.fate == Fate::Late {
                    due + Duration::minutes(self.rng.range(2 * 24 * 60, 20 * 24 * 60))
                } else {
                    let window = (due - cur.0).num_minutes() - 3 * 24 * 60;
                    cur.0 + Duration::minutes(self.rng.range(60, window.max(61)))
                };
                let t = cur.at(done);
                self.emit(
                    t,
                    &rectifier,
                    json!({"type": "hazard.report_rectification_done", "hazard_id": id, "summary": "已按要求完成整改"}),
                );
                if self.rng.chance(0.005) {
                    // The rectifier tries to sign off their own work: refused (segregation of duties).
                    let t = cur.after(30);
                    self.refuse(t, &rectifier, json!({"type": "hazard.verify_rectification", "hazard_id": id, "passed": true, "remarks": "自行验收"}));
                }
                let t = cur.after(self.rng.range(2 * 60, 36 * 60));
                self.emit(t, verifier, json!({"type": "hazard.verify_rectification", "hazard_id": id, "passed": true, "remarks": "现场验收合格"}));
                let t = cur.after(self.rng.range(10, 120));
                self.emit(
                    t,
                    verifier,
                    json!({"type": "hazard.close", "hazard_id": id, "remarks": "整改到位，予以销号"}),
                );
            }
            Fate::Reopened { stays_open } => {
                let t = cur.after(self.rng.range(3 * 24 * 60, 10 * 24 * 60));
                self.emit(
                    t,
                    &rectifier,
                    json!({"type": "hazard.report_rectification_done", "hazard_id": id, "summary": "已完成整改"}),
                );
                let t = cur.after(self.rng.range(2 * 60, 36 * 60));
                self.emit(t, verifier, json!({"type": "hazard.verify_rectification", "hazard_id": id, "passed": false, "remarks": "整改不到位，隐患仍然存在"}));
                let t = cur.after(self.rng.range(24 * 60, 3 * 24 * 60));
                self.emit(
                    t,
                    &rectifier,
                    json!({"type": "hazard.note_progress", "hazard_id": id, "note": "按验收意见重新整改"}),
                );
                if !stays_open {
                    let t = cur.after(self.rng.range(4 * 24 * 60, 15 * 24 * 60));
                    self.emit(t, &rectifier, json!({"type": "hazard.report_rectification_done", "hazard_id": id, "summary": "已重新整改完毕"}));
                    let t = cur.after(self.rng.range(2 * 60, 36 * 60));
                    self.emit(t, verifier, json!({"type": "hazard.verify_rectification", "hazard_id": id, "passed": true, "remarks": "复查合格"}));
                    let t = cur.after(self.rng.range(10, 120));
                    self.emit(
                        t,
                        verifier,
                        json!({"type": "hazard.close", "hazard_id": id, "remarks": "复查合格，予以销号"}),
                    );
                }
            }
        }
        id
    }

    // ---- incidents -------------------------------------------------------------------------

    fn incidents(&mut self) {
        let years = self.span_days() as f64 / 365.0;
        let n = self.scaled(150.0 * years).max(3);
        let y0 = self.start.year();
        let day = |y: i32, m: u32, d: u32| NaiveDate::from_ymd_opt(y, m, d).unwrap_or_default();
        // 较大 accidents: one in each of the first two years, none in the current one.
        let larger = [
            (day(y0, 6, 18), "production", 3u32, 4u32, 2u32, 0u32, 3_800_000i64),
            (day(y0 + 1, 9, 3), "construction", 4, 2, 5, 0, 6_200_000),
        ];
        let mut no = 0usize;
        for (d, category, deaths, serious, minor, missing, loss) in larger {
            no += 1;
            let site = self.random_site();
            let occurred = cst(d, 10 * 60 + 25);
            let c = Casualties { deaths, serious, minor, missing, loss };
            self.incident(no, site, occurred, category, c, Story::Complete);
        }
        for _ in larger.len()..n {
            no += 1;
            let site = self.random_site();
            let d = self.random_day();
            let occurred = cst(d, self.rng.range(0, 24 * 60 - 1));
            let cats = [
                "road_traffic",
                "production",
                "fire",
                "construction",
                "water",
                "home",
                "elderly_fall",
                "public_security",
                "electricity",
                "special_equipment",
                "hazardous_chemicals",
                "pesticide_poisoning",
                "agricultural_machinery",
                "school_child",
                "public_place",
            ];
            let category = cats[self.rng.weighted(&[34, 12, 11, 6, 6, 5, 6, 5, 3, 2, 2, 2, 2, 2, 2])];
            let current = d.year() == self.end.year();
            let c = self.casualties(category, current);
            let r = self.rng.unit();
            let story = if r < 0.12 { Story::MissingConditions } else { Story::Complete };
            self.incident(no, site, occurred, category, c, story);
        }
    }

    fn casualties(&mut self, category: &str, current_year: bool) -> Casualties {
        // (p one death, p two deaths, serious max, minor max, loss range)
        let (p1, p2, smax, mmax, lo, hi) = match category {
            "road_traffic" => (0.25, 0.03, 2, 4, 5_000, 200_000),
            "production" | "construction" | "special_equipment" | "hazardous_chemicals" => {
                (0.35, 0.04, 2, 3, 50_000, 2_000_000)
            }
            "fire" => (0.10, 0.02, 1, 3, 20_000, 3_000_000),
            "water" => (0.70, 0.03, 0, 1, 0, 0),
            _ => (0.15, 0.0, 1, 2, 0, 50_000),
        };
        // The current year is visibly safer: with the year not yet over, deaths come out some
        // 20–40% below the previous year's.
        let f = if current_year { 0.8 } else { 1.0 };
        let r = self.rng.unit();
        let deaths = if r < p2 * f {
            2
        } else if r < (p1 + p2) * f {
            1
        } else {
            0
        };
        let serious = self.rng.range(0, smax) as u32;
        let mut minor = self.rng.range(0, mmax) as u32;
        if deaths == 0 && serious == 0 && minor == 0 {
            minor = 1;
        }
        Casualties { deaths, serious, minor, missing: 0, loss: self.rng.range(lo, hi) }
    }

    /// One incident: report, revisions, investigation, the four don't-let-go, closing,
    /// evaluation.
    fn incident(
        &mut self,
        no: usize,
        site: usize,
        occurred: DateTime<Utc>,
        category: &'static str,
        c: Casualties,
        story: Story,
    ) {
        let id = format!("inc-{no:04}");
        let Some(s) = self.sites.get(site) else { return };
        let site_id = s.id.clone();
        let graded_category =
            matches!(category, "production" | "construction" | "special_equipment" | "hazardous_chemicals");
        let enterprise = if graded_category && !s.enterprises.is_empty() {
            s.enterprises.get(self.rng.below(s.enterprises.len() as u64) as usize).cloned()
        } else {
            None
        };
        let larger = c.deaths >= 3 || c.serious >= 10 || c.loss >= 10_000_000;
        let late_report = self.rng.chance(0.05);
        let delay = if late_report { self.rng.range(70, 240) } else { self.rng.range(12, 55) };
        let reported_at = occurred + Duration::minutes(delay);
        let reporter = match category {
            "road_traffic" => "police-traffic".to_string(),
            "fire" => "fire-rescue".to_string(),
            _ => format!("duty-{site_id}"),
        };
        let mut cur = Cursor(reported_at);
        let t = cur.after(self.rng.range(1, 20));
        self.emit(
            t,
            &reporter,
            json!({
                "type": "incident.report", "incident_id": id, "occurred_at": ts(occurred), "reported_at": ts(reported_at),
                "place": incident_place(category), "community_id": site_id, "enterprise_id": enterprise, "category": category,
                "deaths": c.deaths, "serious_injuries": c.serious, "minor_injuries": c.minor, "missing": c.missing,
                "direct_loss_yuan": c.loss, "summary": incident_summary(category),
            }),
        );
        // Casualty revisions: a supplementary report within the window, or a late one. They are
        // issued at their own time (the sort puts them in place); the case closes after them.
        let short = matches!(category, "road_traffic" | "fire");
        let mut figures = c;
        let mut last_revision = cur.0;
        let r = self.rng.unit();
        if r < 0.04 {
            let t = occurred + Duration::days(self.rng.range(2, if short { 6 } else { 20 }));
            figures.minor += self.rng.range(1, 3) as u32;
            self.revise(&id, t, &figures, "补报：新增就医伤员");
            last_revision = t;
        } else if r < 0.055 && figures.deaths < 2 && figures.serious > 0 {
            let t = occurred + Duration::days(self.rng.range(35, 60));
            figures.deaths += 1;
            figures.serious -= 1;
            self.revise(&id, t, &figures, "伤员经抢救无效死亡，迟报更正");
            last_revision = t;
        }
        let investigated = graded_category || figures.deaths > 0;
        let mut finished = cur.0 + Duration::days(self.rng.range(3, 12));
        let mut stuck = false;
        if investigated {
            let (level, authority) = if larger {
                ("city", "示范市人民政府事故调查组")
            } else {
                ("county", "示范区人民政府事故调查组")
            };
            let t = cur.after(self.rng.range(12 * 60, 3 * 24 * 60));
            self.emit(t, "investigation-office", json!({"type": "incident.open_investigation", "incident_id": id, "authority_level": level, "authority": authority}));
            let mut due = occurred + Duration::days(60);
            if self.rng.chance(0.1) {
                let started = cur.0 + Duration::days(self.rng.range(3, 10));
                let t = cur.at(started + Duration::minutes(30));
                self.emit(t, "investigation-office", json!({"type": "incident.start_appraisal", "incident_id": id, "started_at": ts(started), "reason": "委托技术鉴定"}));
                let ended = started + Duration::days(self.rng.range(10, 25));
                let t = cur.at(ended + Duration::minutes(30));
                self.emit(
                    t,
                    "investigation-office",
                    json!({"type": "incident.end_appraisal", "incident_id": id, "ended_at": ts(ended)}),
                );
                due += ended - started;
            }
            if larger || self.rng.chance(0.06) {
                let t = cur.at(due - Duration::days(5));
                self.emit(t, "investigation-office", json!({"type": "incident.extend_investigation", "incident_id": id, "days": 30, "reason": "案情复杂，需延长调查期限"}));
                due += Duration::days(30);
            }
            let r = self.rng.unit();
            if r < 0.05 {
                // Investigation stalls: no report, past its deadline once the deadline passes.
                stuck = true;
            } else {
                let submitted = if r < 0.11 {
                    due + Duration::days(self.rng.range(3, 20))
                } else {
                    cur.0 + Duration::minutes(self.rng.range(60, ((due - cur.0).num_minutes() - 60).max(61)))
                };
                let t = cur.at(submitted + Duration::minutes(20));
                self.emit(t, "investigation-office", json!({"type": "incident.submit_investigation_report", "incident_id": id, "submitted_at": ts(submitted), "summary": "查明事故经过、原因和责任，提出处理建议和防范措施"}));
                finished = cur.0;
            }
        }
        if stuck {
            return;
        }
        // The four don't-let-go, each with evidence; some left missing.
        let mut done = [true; 4];
        if story == Story::MissingConditions {
            let k = self.rng.below(4) as usize;
            done[k] = false;
            if self.rng.chance(0.3) {
                done[(k + 1 + self.rng.below(3) as usize) % 4] = false;
            }
        }
        cur.at(finished);
        let evid = |what: &str| vec![format!("{id}/{what}")];
        if done[0] {
            let t = cur.after(self.rng.range(60, 2 * 24 * 60));
            self.emit(t, "investigation-office", json!({"type": "incident.determine_cause", "incident_id": id, "cause": incident_cause(category), "evidence": evid("调查报告")}));
        }
        if done[1] {
            let person = self.person();
            let t = cur.after(self.rng.range(60, 4 * 24 * 60));
            self.emit(t, "investigation-office", json!({"type": "incident.deal_with_responsible", "incident_id": id, "person": person, "role": "现场负责人", "action": "给予行政处分并处罚款", "evidence": evid("处理决定书")}));
        }
        if done[2] {
            let hazards: Vec<String> = self
                .sites
                .get(site)
                .map(|s| {
                    s.hazards.iter().rev().filter(|(f, _)| *f <= occurred).take(1).map(|(_, h)| h.clone()).collect()
                })
                .unwrap_or_default();
            let t = cur.after(self.rng.range(60, 5 * 24 * 60));
            self.emit(t, "bureau-admin", json!({"type": "incident.implement_corrective_measures", "incident_id": id, "measures": "落实整改措施，开展同类隐患专项排查", "hazard_ids": hazards, "evidence": evid("整改验收记录")}));
        }
        if done[3] {
            let reached = self.rng.range(20, 600);
            let t = cur.after(self.rng.range(60, 5 * 24 * 60));
            self.emit(t, "committee-01", json!({"type": "incident.conduct_education", "incident_id": id, "audience": "责任人员及周边群众", "people_reached": reached, "method": "警示教育大会", "evidence": evid("培训签到表")}));
        }
        let signed = cur.0.max(last_revision) + Duration::minutes(self.rng.range(60, 10 * 24 * 60));
        let close = json!({"type": "incident.close", "incident_id": id, "signed_off_at": ts(signed), "signed_off_by": "示范区人民政府"});
        if done.iter().all(|d| *d) {
            let t = cur.at(signed + Duration::minutes(30));
            self.emit(t, "investigation-office", close);
            let evaluated = signed + Duration::days(self.rng.range(300, 380));
            if self.rng.chance(0.8) {
                let t = cur.at(evaluated);
                self.emit(t, "bureau-admin", json!({"type": "incident.record_evaluation", "incident_id": id, "evaluated_at": ts(evaluated), "findings": "整改和防范措施已落实", "published": true}));
            }
        } else if self.rng.chance(0.3) {
            // Someone tries to close the case anyway: refused, naming what is missing.
            let t = cur.at(signed + Duration::minutes(30));
            self.refuse(t, "investigation-office", close);
        }
    }

    fn revise(&mut self, id: &str, t: DateTime<Utc>, c: &Casualties, reason: &str) {
        self.emit(
            t,
            "investigation-office",
            json!({
                "type": "incident.revise_casualties", "incident_id": id, "deaths": c.deaths, "serious_injuries": c.serious,
                "minor_injuries": c.minor, "missing": c.missing, "direct_loss_yuan": c.loss, "reason": reason,
            }),
        );
    }

    // ---- injuries --------------------------------------------------------------------------

    fn injuries(&mut self) {
        let years = self.span_days() as f64 / 365.0;
        let n = self.scaled(300.0 * years).max(5);
        for no in 1..=n {
            let site = self.random_site();
            let (site_id, kind) = match self.sites.get(site) {
                Some(s) => (s.id.clone(), s.kind),
                None => continue,
            };
            let d = self.random_day();
            let occurred = cst(d, self.rng.range(6 * 60, 22 * 60));
            let sc = SCENARIOS[self.rng.weighted(&SCENARIOS.map(|s| s.weight))];
            let age = self.rng.range(i64::from(sc.age.0), i64::from(sc.age.1)) as u16;
            let mut groups: Vec<&str> = Vec::new();
            if age >= 65 {
                groups.push("elderly");
            }
            if age < 14 {
                groups.push(if kind == Kind::RuralTown && self.rng.chance(0.4) {
                    "left_behind_child"
                } else {
                    "child"
                });
            }
            if sc.place == "workplace" && self.rng.chance(0.5) {
                groups.push("migrant_worker");
            }
            if self.rng.chance(0.02) {
                groups.push("disabled");
            }
            let r = self.rng.unit();
            let (severity, outcome) = if r < sc.p_death {
                ("death", "died")
            } else if r < sc.p_death + 0.22 {
                ("serious", if self.rng.chance(0.8) { "admitted" } else { "transferred" })
            } else {
                ("minor", "treated_and_released")
            };
            let intent = if sc.mechanism == "poisoning" && self.rng.chance(0.3) {
                "self_harm"
            } else if sc.category == "public_security" {
                "assault"
            } else {
                "unintentional"
            };
            let sex = ["male", "male", "female", "female", "male"][self.rng.below(5) as usize];
            let nature = self.rng.pick(sc.natures, "other");
            let body = self.rng.pick(sc.body_parts, "unknown");
            let data = json!({
                "occurred_at": ts(occurred), "age": age, "sex": sex, "intent": intent, "mechanism": sc.mechanism,
                "place": sc.place, "activity": sc.activity, "nature": nature, "body_part": body,
                "severity": severity, "outcome": outcome, "category": sc.category, "community_id": site_id,
                "vulnerable_groups": groups, "incident_id": null, "note": null,
            });
            let id = format!("inj-{no:05}");
            let reporter = ["hospital-01", "hospital-02", "clinic-03"][self.rng.below(3) as usize];
            let recorded = occurred + Duration::minutes(self.rng.range(6 * 60, 5 * 24 * 60));
            if self.rng.chance(0.02) {
                let mut corrected = data.clone();
                corrected["age"] = json!(age.saturating_add(1));
                let t = recorded + Duration::days(self.rng.range(7, 30));
                self.emit(recorded, reporter, json!({"type": "injury.record", "injury_id": id, "data": data}));
                self.emit(t, "cdc-district", json!({"type": "injury.correct", "injury_id": id, "data": corrected, "reason": "核对身份证件后更正年龄"}));
            } else {
                self.emit(recorded, reporter, json!({"type": "injury.record", "injury_id": id, "data": data}));
            }
        }
    }

    // ---- promotion projects ----------------------------------------------------------------

    fn projects(&mut self) {
        let n = self.scaled(1.5 * f64::from(self.n_sites)).max(2);
        for no in 1..=n {
            let site = (no - 1) % self.sites.len().max(1);
            let (site_id, kind) = match self.sites.get(site) {
                Some(s) => (s.id.clone(), s.kind),
                None => continue,
            };
            let options: &[Target] = match kind {
                Kind::UrbanStreet => &URBAN_TARGETS,
                Kind::RuralTown => &RURAL_TARGETS,
                Kind::EnterpriseLed => &ENTERPRISE_TARGETS,
            };
            let Some(target) = options.get(no / self.sites.len().max(1) % options.len().max(1)).copied() else {
                continue;
            };
            let id = format!("prj-{no:03}");
            // Planned in the first two years, baseline the year before.
            let plan_year = self.start.year() + (self.rng.below(2) as i32);
            let plan_day =
                NaiveDate::from_ymd_opt(plan_year, 1 + self.rng.below(6) as u32, 1 + self.rng.below(28) as u32)
                    .unwrap_or(self.start);
            let baseline_from = NaiveDate::from_ymd_opt(plan_year - 1, 1, 1).unwrap_or(self.start);
            let baseline_to = NaiveDate::from_ymd_opt(plan_year - 1, 12, 31).unwrap_or(self.start);
            let mut cur = Cursor(cst(plan_day, 9 * 60));
            let t = cur.after(30);
            self.emit(
                t,
                "committee-01",
                json!({
                    "type": "project.plan", "project_id": id, "community_id": site_id, "name": target.name,
                    "target_category": target.category, "target_group": target.group, "target_place": target.place,
                    "objective": target.objective, "baseline_from": date(baseline_from), "baseline_to": date(baseline_to),
                }),
            );
            let k = self.rng.range(3, 6) as usize;
            let mut planned = Vec::new();
            for j in 0..k {
                let iv = format!("iv-{}", j + 1);
                let what = target.measures.get(j % target.measures.len().max(1)).copied().unwrap_or("宣传教育");
                let planned_for = plan_day + Duration::days(30 + self.rng.range(0, 300));
                let t = cur.after(5);
                self.emit(t, "committee-01", json!({"type": "project.plan_intervention", "project_id": id, "intervention_id": iv, "what": what, "planned_for": date(planned_for)}));
                planned.push((iv, planned_for));
            }
            planned.sort_by_key(|p| p.1);
            let mut last_done = None;
            for (iv, planned_for) in planned {
                if self.rng.chance(0.1) {
                    continue;
                }
                let on = planned_for + Duration::days(self.rng.range(0, 20));
                let reach = self.rng.range(50, 3000);
                let t = cur.at(cst(on, 18 * 60));
                self.emit(t, "committee-01", json!({"type": "project.implement_intervention", "project_id": id, "intervention_id": iv, "implemented_on": date(on), "reach": reach}));
                last_done = Some(on);
            }
            if let Some(last) = last_done {
                let on = last + Duration::days(self.rng.range(120, 360));
                let before = self.rng.range(20, 120);
                let after = before * self.rng.range(55, 92) / 100;
                let t = cur.at(cst(on, 15 * 60));
                self.emit(
                    t,
                    "committee-01",
                    json!({"type": "project.evaluate", "project_id": id, "indicator": target.indicator, "before": before, "after": after,
                           "evaluated_on": date(on), "conclusion": "干预措施有效，目标人群伤害发生明显下降"}),
                );
            }
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Story {
    Complete,
    MissingConditions,
}

#[derive(Clone, Copy)]
struct Casualties {
    deaths: u32,
    serious: u32,
    minor: u32,
    missing: u32,
    loss: i64,
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

fn industry_zh(code: &str) -> &'static str {
    match code {
        "hazardous_chemicals" => "化工",
        "metallurgy" => "冶金",
        "manufacturing" => "机械制造",
        "transport" => "物流运输",
        "commerce" => "商贸",
        "construction" => "建筑工程",
        "agriculture" => "农业开发",
        "mining" => "矿业",
        "fireworks" => "烟花爆竹",
        _ => "综合服务",
    }
}

fn hazard_text(category: &str, variant: u64) -> (&'static str, &'static str) {
    let options: [(&str, &str); 3] = match category {
        "fire" => [
            ("住宅楼楼道", "电动自行车楼道停放充电"),
            ("沿街商铺", "疏散通道堆放杂物，灭火器过期"),
            ("小区地下车库", "消防喷淋系统故障未修复"),
        ],
        "electricity" => [
            ("老旧小区配电箱", "线路老化、私拉乱接"),
            ("生产车间", "配电柜未接地，绝缘破损"),
            ("农贸市场", "临时用电未设漏电保护"),
        ],
        "road_traffic" => {
            [("学校门口路段", "缺少减速带和警示标志"), ("村道急弯", "护栏缺失"), ("交叉路口", "信号灯故障")]
        }
        "construction" => {
            [("在建工地", "脚手架连墙件缺失"), ("基坑周边", "临边防护不到位"), ("塔吊作业区", "限位装置失灵")]
        }
        "public_place" => [("商场中庭", "安全出口锁闭"), ("广场", "大型活动无安保方案"), ("电梯间", "电梯超期未检")],
        "water" => [("村边池塘", "无防护栏和警示牌"), ("河道", "救生设施缺失"), ("水库", "游泳禁区标识损坏")],
        "home" => {
            [("独居老人家中", "燃气软管老化"), ("出租屋", "群租房隔断使用易燃材料"), ("居民楼", "阳台堆放易燃物")]
        }
        "production" => {
            [("冲压车间", "冲床安全防护装置失效"), ("仓库", "货架超载、通道堵塞"), ("有限空间", "作业未检测通风")]
        }
        "hazardous_chemicals" => {
            [("储罐区", "可燃气体报警器失效"), ("装卸站台", "静电接地装置缺失"), ("危化品仓库", "禁忌物料混存")]
        }
        "special_equipment" => {
            [("锅炉房", "压力表超期未校验"), ("行车作业区", "起重机钢丝绳断丝超标"), ("厂区", "叉车无证驾驶")]
        }
        _ => [("现场", "安全管理制度不落实"), ("现场", "安全警示标志缺失"), ("现场", "应急预案未演练")],
    };
    options[(variant % 3) as usize]
}

fn incident_place(category: &str) -> &'static str {
    match category {
        "road_traffic" => "国道路口",
        "fire" => "居民楼",
        "water" => "村边池塘",
        "production" | "special_equipment" => "企业生产车间",
        "construction" => "在建工地",
        "hazardous_chemicals" => "化工园区储罐区",
        "elderly_fall" | "home" => "居民家中",
        "school_child" => "学校操场",
        "agricultural_machinery" => "田间道路",
        "pesticide_poisoning" => "农田",
        _ => "公共场所",
    }
}

fn incident_summary(category: &str) -> &'static str {
    match category {
        "road_traffic" => "两车相撞，造成人员伤亡",
        "fire" => "室内电气线路故障引发火灾",
        "water" => "未成年人私自下水游泳溺水",
        "production" => "作业人员被机械设备卷入",
        "construction" => "高处作业人员坠落",
        "special_equipment" => "起重机械吊物坠落",
        "hazardous_chemicals" => "储罐检修时发生泄漏中毒",
        "elderly_fall" => "老年人在家中跌倒",
        "pesticide_poisoning" => "喷洒农药未做防护中毒",
        _ => "发生意外伤害事件",
    }
}

fn incident_cause(category: &str) -> &'static str {
    match category {
        "road_traffic" => "驾驶人超速行驶、未按规定让行",
        "fire" => "电气线路老化短路引燃可燃物",
        "production" | "special_equipment" => "违章作业，安全防护装置失效，安全管理不到位",
        "construction" => "未按规定系挂安全带，临边防护缺失",
        "hazardous_chemicals" => "检修作业未执行特殊作业审批，未进行气体检测",
        _ => "安全意识淡薄，防护措施缺失",
    }
}

/// One kind of injury as surveillance sees it.
#[derive(Clone, Copy)]
struct Scenario {
    weight: u64,
    category: &'static str,
    mechanism: &'static str,
    place: &'static str,
    activity: &'static str,
    natures: &'static [&'static str],
    body_parts: &'static [&'static str],
    age: (u16, u16),
    p_death: f64,
}

const SCENARIOS: [Scenario; 12] = [
    Scenario {
        weight: 24,
        category: "elderly_fall",
        mechanism: "fall",
        place: "home",
        activity: "vital",
        natures: &["fracture", "sprain", "bruise"],
        body_parts: &["lower_limb", "trunk", "head"],
        age: (65, 94),
        p_death: 0.01,
    },
    Scenario {
        weight: 20,
        category: "road_traffic",
        mechanism: "traffic",
        place: "road",
        activity: "travel",
        natures: &["fracture", "open_wound", "concussion", "bruise"],
        body_parts: &["multiple", "head", "lower_limb"],
        age: (6, 78),
        p_death: 0.03,
    },
    Scenario {
        weight: 10,
        category: "production",
        mechanism: "machinery",
        place: "workplace",
        activity: "paid_work",
        natures: &["open_wound", "fracture"],
        body_parts: &["upper_limb"],
        age: (19, 58),
        p_death: 0.01,
    },
    Scenario {
        weight: 6,
        category: "construction",
        mechanism: "fall",
        place: "workplace",
        activity: "paid_work",
        natures: &["fracture", "concussion"],
        body_parts: &["multiple", "lower_limb"],
        age: (22, 60),
        p_death: 0.03,
    },
    Scenario {
        weight: 8,
        category: "school_child",
        mechanism: "fall",
        place: "school",
        activity: "education",
        natures: &["sprain", "bruise", "fracture"],
        body_parts: &["upper_limb", "lower_limb"],
        age: (6, 15),
        p_death: 0.0,
    },
    Scenario {
        weight: 4,
        category: "water",
        mechanism: "drowning",
        place: "water",
        activity: "leisure",
        natures: &["organ", "other"],
        body_parts: &["systemic"],
        age: (5, 16),
        p_death: 0.35,
    },
    Scenario {
        weight: 9,
        category: "home",
        mechanism: "cut",
        place: "home",
        activity: "unpaid_work",
        natures: &["open_wound"],
        body_parts: &["upper_limb"],
        age: (12, 80),
        p_death: 0.0,
    },
    Scenario {
        weight: 4,
        category: "fire",
        mechanism: "burn_fire",
        place: "home",
        activity: "vital",
        natures: &["burn"],
        body_parts: &["multiple", "upper_limb"],
        age: (2, 85),
        p_death: 0.04,
    },
    Scenario {
        weight: 3,
        category: "electricity",
        mechanism: "electric",
        place: "home",
        activity: "unpaid_work",
        natures: &["burn"],
        body_parts: &["upper_limb"],
        age: (18, 70),
        p_death: 0.05,
    },
    Scenario {
        weight: 3,
        category: "pesticide_poisoning",
        mechanism: "poisoning",
        place: "farm",
        activity: "paid_work",
        natures: &["poisoning"],
        body_parts: &["systemic"],
        age: (30, 72),
        p_death: 0.04,
    },
    Scenario {
        weight: 5,
        category: "public_security",
        mechanism: "struck",
        place: "public_place",
        activity: "leisure",
        natures: &["bruise", "open_wound"],
        body_parts: &["head", "trunk"],
        age: (18, 50),
        p_death: 0.01,
    },
    Scenario {
        weight: 4,
        category: "agricultural_machinery",
        mechanism: "machinery",
        place: "farm",
        activity: "paid_work",
        natures: &["fracture", "open_wound"],
        body_parts: &["upper_limb", "lower_limb"],
        age: (35, 70),
        p_death: 0.02,
    },
];

/// A promotion project's target and its usual measures.
#[derive(Clone, Copy)]
struct Target {
    name: &'static str,
    category: Option<&'static str>,
    group: Option<&'static str>,
    place: Option<&'static str>,
    objective: &'static str,
    indicator: &'static str,
    measures: &'static [&'static str],
}

const URBAN_TARGETS: [Target; 3] = [
    Target {
        name: "老年人跌倒预防项目",
        category: Some("elderly_fall"),
        group: Some("elderly"),
        place: Some("home"),
        objective: "降低65岁以上老年人居家跌倒发生率",
        indicator: "老年人跌倒就诊人次/年",
        measures: &["居家环境适老化改造", "防跌倒健康讲座", "平衡能力训练班", "发放防滑垫和夜灯", "高风险老人入户评估"],
    },
    Target {
        name: "电动自行车消防安全项目",
        category: Some("fire"),
        group: None,
        place: Some("home"),
        objective: "杜绝电动自行车入户充电引发的火灾",
        indicator: "电动自行车火灾起数/年",
        measures: &["建设集中充电棚", "楼道清理专项行动", "消防安全入户宣传", "安装烟感报警器"],
    },
    Target {
        name: "校园周边交通安全项目",
        category: Some("road_traffic"),
        group: Some("child"),
        place: Some("school"),
        objective: "减少学生上下学交通伤害",
        indicator: "学生交通伤害人次/年",
        measures: &["护学岗", "增设减速带与警示标志", "交通安全课进课堂", "家长接送文明倡议"],
    },
];

const RURAL_TARGETS: [Target; 3] = [
    Target {
        name: "防溺水安全项目",
        category: Some("water"),
        group: Some("left_behind_child"),
        place: Some("water"),
        objective: "杜绝中小学生溺水死亡",
        indicator: "儿童溺水人次/年",
        measures: &["危险水域设置护栏和警示牌", "暑期巡河护学", "留守儿童防溺水教育", "配置救生圈救生杆"],
    },
    Target {
        name: "农药安全使用项目",
        category: Some("pesticide_poisoning"),
        group: None,
        place: None,
        objective: "减少农药中毒",
        indicator: "农药中毒人次/年",
        measures: &["农药统一存放柜", "安全用药培训", "防护用品发放"],
    },
    Target {
        name: "农机安全项目",
        category: Some("agricultural_machinery"),
        group: None,
        place: Some("road"),
        objective: "减少农机事故伤害",
        indicator: "农机伤害人次/年",
        measures: &["农机年检上门服务", "驾驶员培训", "粘贴反光标识"],
    },
];

const ENTERPRISE_TARGETS: [Target; 3] = [
    Target {
        name: "外来务工人员职业安全项目",
        category: Some("production"),
        group: Some("migrant_worker"),
        place: Some("workplace"),
        objective: "降低一线员工工伤发生率",
        indicator: "工伤人次/年",
        measures: &["岗前三级安全教育", "设备本质安全改造", "班组安全活动", "隐患随手拍"],
    },
    Target {
        name: "危险化学品仓储安全项目",
        category: Some("hazardous_chemicals"),
        group: None,
        place: Some("warehouse"),
        objective: "消除危化品仓储重大隐患",
        indicator: "危化品仓储隐患数/年",
        measures: &["仓库分区分类改造", "可燃气体报警联网", "应急演练"],
    },
    Target {
        name: "建筑施工高处坠落预防项目",
        category: Some("construction"),
        group: Some("migrant_worker"),
        place: Some("construction_site"),
        objective: "减少高处坠落事故",
        indicator: "高处坠落人次/年",
        measures: &["临边洞口标准化防护", "安全带智能监测", "实名制安全培训"],
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_generator_is_the_same_on_every_run() {
        let mut a = Rng(7);
        let mut b = Rng(7);
        assert_eq!(
            (0..10).map(|_| a.next_u64()).collect::<Vec<_>>(),
            (0..10).map(|_| b.next_u64()).collect::<Vec<_>>()
        );
        assert_eq!(a.below(0), 0);
        assert_eq!(a.range(5, 5), 5);
    }

    #[test]
    fn command_ids_differ_by_seed_and_index() {
        assert_ne!(command_id(1, 0), command_id(1, 1));
        assert_ne!(command_id(1, 0), command_id(2, 0));
        assert_eq!(command_id(3, 4), command_id(3, 4));
    }

    #[test]
    fn cst_midnight_is_sixteen_hundred_utc_the_day_before() {
        let d = NaiveDate::from_ymd_opt(2025, 3, 1).unwrap();
        assert_eq!(ts(cst(d, 0)), "2025-02-28T16:00:00Z");
        assert_eq!(day_of(cst(d, 24 * 60 - 1)), d);
    }
}
