//! Who may do what (权限): roles granted to actors within a scope, as events, and the policy
//! that says which roles may send which command within which scope.
//!
//! Invariants:
//! - Grants and revocations are events in the actor's own stream (`access-{actor}`), so who
//!   could do what at any moment is replayable like everything else.
//! - [`authorize`] is pure: the engine hands it the actor's grants, the command and the scope the
//!   command touches ([`target_scope`], from the command or the target stream's first event).
//!   Default deny: [`allowed_roles`] matches every command exhaustively, so a new command does
//!   not compile until its roles are decided.
//! - Auditors (督查) may send no command at all: they read.
//! - A store starts enforcing roles with `access.enforce_roles` (启用权限), which names its first
//!   administrator; from then on every engine on the store enforces them, whatever its host
//!   configuration says. There is no event that stops enforcement.
//! - A grant or revocation counts only if the actor who recorded it could grant at that moment
//!   (held the administrator role for the whole district, by the enforcement event, an earlier
//!   grant that counted, or the host's configuration). [`AccessIndex`] folds the access events of
//!   the whole log in position order and applies exactly that rule, so a role an actor gave
//!   itself while nothing was enforced never counts.
//! - The segregation "the verifier of a rectification is never the one who reported it done"
//!   is a hazard rule (see `hazard.rs`), enforced whatever the roles.

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::command::Command;
use super::community::{CommunityCommand, CommunityEvent};
use super::enterprise::{EnterpriseCommand, EnterpriseEvent};
use super::event::DomainEvent;
use super::hazard::{HazardCommand, HazardEvent};
use super::incident::{IncidentCommand, IncidentEvent};
use super::injury::{InjuryCommand, InjuryEvent};
use super::person::PersonCommand;
use super::promotion::{ProjectCommand, ProjectEvent};
use super::{opt_text, rule, text, Aggregate, DecisionContext, EntityId, Rejection, StreamKind, MAX_TEXT};

/// The roles of the safety work, closed: the permission table is written against them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// 网格员
    GridInspector,
    /// 企业安全员
    EnterpriseSafetyOfficer,
    /// 社区安全促进委员会
    CommunityCommittee,
    /// 应急管理局 / 安监局 监管人员
    BureauSupervisor,
    /// 事故调查组成员
    Investigator,
    /// 督查: reads only
    Auditor,
    /// 系统管理员: grants and revokes roles
    Administrator,
    // Persisted by variant index (bincode): new roles go at the end.
    /// 相关部门: traffic police, fire rescue, health (sentinel hospitals, CDC), statistics, the
    /// 12345 hotline — they report incidents, hazards and injuries of their field
    PartnerDepartment,
}

/// Where a grant applies.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// The whole district (区).
    District,
    /// One community (街道/乡镇/社区).
    Community(EntityId),
    /// One enterprise (企业).
    Enterprise(EntityId),
}

/// A role within a scope.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema)]
pub struct Grant {
    pub role: Role,
    pub scope: Scope,
}

/// Grant a role to an actor.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GrantRole {
    pub actor_id: EntityId,
    pub role: Role,
    pub scope: Scope,
    pub reason: Option<String>,
}

/// Revoke a role from an actor.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RevokeRole {
    pub actor_id: EntityId,
    pub role: Role,
    pub scope: Scope,
    pub reason: Option<String>,
}

/// Start enforcing roles in this store (启用权限), with `actor_id` as its first administrator
/// (district-wide). Accepted once per store; later administrators are granted the role.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EnforceRoles {
    pub actor_id: EntityId,
    pub reason: Option<String>,
}

/// Record that the actor is about to export the log with personal fields opened (PIPL: a
/// disclosure of personal information, 个人信息对外提供). Addressed to the exporter's own stream.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RecordPersonalExport {
    pub actor_id: EntityId,
    /// Why (the request or legal basis).
    pub reason: String,
    /// Events the export covers.
    pub events: u64,
    /// The head hash the export ends at.
    pub head_hash: String,
}

command_enum!(
    /// Commands addressed to an actor's access stream.
    AccessCommand, actor_id, StreamKind::Access, {
    Grant(GrantRole) = "access.grant_role",
    Revoke(RevokeRole) = "access.revoke_role",
    EnforceRoles(EnforceRoles) = "access.enforce_roles",
    RecordPersonalExport(RecordPersonalExport) = "access.record_personal_export",
});

/// A role was granted. Persisted: no data-losing serde attributes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct RoleGranted {
    pub actor_id: EntityId,
    pub recorded_by: EntityId,
    #[serde(deserialize_with = "crate::domain::wire_time::utc")]
    pub recorded_at: DateTime<Utc>,
    pub grant: Grant,
    pub reason: Option<String>,
}

/// A role was revoked.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct RoleRevoked {
    pub actor_id: EntityId,
    pub recorded_by: EntityId,
    #[serde(deserialize_with = "crate::domain::wire_time::utc")]
    pub recorded_at: DateTime<Utc>,
    pub grant: Grant,
    pub reason: Option<String>,
}

/// The store started enforcing roles; `actor_id` is its first administrator.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct RolesEnforced {
    pub actor_id: EntityId,
    pub recorded_by: EntityId,
    #[serde(deserialize_with = "crate::domain::wire_time::utc")]
    pub recorded_at: DateTime<Utc>,
    pub reason: Option<String>,
}

/// The actor exported the log with personal fields opened.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct PersonalDataExported {
    pub actor_id: EntityId,
    #[serde(deserialize_with = "crate::domain::wire_time::utc")]
    pub recorded_at: DateTime<Utc>,
    pub reason: String,
    pub events: u64,
    pub head_hash: String,
}

event_enum!(
    /// Events of an actor's access stream (`access-{actor}`).
    AccessEvent, actor_id, StreamKind::Access, {
    Granted(RoleGranted) = "access.role_granted" v 1,
    Revoked(RoleRevoked) = "access.role_revoked" v 1,
    RolesEnforced(RolesEnforced) = "access.roles_enforced" v 1,
    PersonalDataExported(PersonalDataExported) = "access.personal_data_exported" v 1,
});

/// The grants an actor holds now.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AccessState {
    pub actor_id: Option<EntityId>,
    pub grants: Vec<Grant>,
}

/// The access aggregate: one stream per actor.
pub struct Access;

impl Aggregate for Access {
    type State = AccessState;
    type Command = AccessCommand;
    type Event = AccessEvent;

    fn decide(s: &AccessState, cmd: &AccessCommand, ctx: &DecisionContext<'_>) -> Result<Vec<AccessEvent>, Rejection> {
        super::same_id("actor_id", &s.actor_id, cmd.target_id())?;
        let (actor_id, recorded_by, recorded_at) = (cmd.target_id().clone(), ctx.actor.clone(), ctx.issued_at);
        Ok(vec![match cmd {
            AccessCommand::Grant(c) => {
                opt_text("reason", &c.reason, MAX_TEXT)?;
                let grant = Grant { role: c.role, scope: c.scope.clone() };
                if s.grants.contains(&grant) {
                    return Err(Rejection::at("role", rule::DUPLICATE, format!("{actor_id} already holds {grant:?}")));
                }
                AccessEvent::Granted(RoleGranted {
                    actor_id,
                    recorded_by,
                    recorded_at,
                    grant,
                    reason: c.reason.clone(),
                })
            }
            AccessCommand::Revoke(c) => {
                opt_text("reason", &c.reason, MAX_TEXT)?;
                let grant = Grant { role: c.role, scope: c.scope.clone() };
                if !s.grants.contains(&grant) {
                    return Err(Rejection::at("role", rule::NOT_FOUND, format!("{actor_id} does not hold {grant:?}")));
                }
                AccessEvent::Revoked(RoleRevoked {
                    actor_id,
                    recorded_by,
                    recorded_at,
                    grant,
                    reason: c.reason.clone(),
                })
            }
            AccessCommand::RecordPersonalExport(c) => {
                if c.actor_id != *ctx.actor {
                    return Err(Rejection::at(
                        "actor_id",
                        rule::WRONG_STREAM,
                        format!("{} records only its own exports, not {}'s", ctx.actor, c.actor_id),
                    ));
                }
                text("reason", &c.reason, MAX_TEXT)?;
                if c.head_hash.len() != 64 || !c.head_hash.bytes().all(|b| b.is_ascii_hexdigit()) {
                    return Err(Rejection::at("head_hash", rule::MALFORMED, "head_hash must be 64 hex digits"));
                }
                AccessEvent::PersonalDataExported(PersonalDataExported {
                    actor_id,
                    recorded_at,
                    reason: c.reason.clone(),
                    events: c.events,
                    head_hash: c.head_hash.to_ascii_lowercase(),
                })
            }
            // Whether the store already enforces roles is a fact of the whole log, not of this
            // stream: the engine checks it ([`AccessIndex::enforced`]) before deciding.
            AccessCommand::EnforceRoles(c) => {
                opt_text("reason", &c.reason, MAX_TEXT)?;
                AccessEvent::RolesEnforced(RolesEnforced {
                    actor_id,
                    recorded_by,
                    recorded_at,
                    reason: c.reason.clone(),
                })
            }
        }])
    }

    fn evolve(mut s: AccessState, e: &AccessEvent) -> AccessState {
        match e {
            AccessEvent::Granted(e) => {
                s.actor_id = Some(e.actor_id.clone());
                s.grants.push(e.grant.clone());
            }
            AccessEvent::Revoked(e) => s.grants.retain(|g| *g != e.grant),
            AccessEvent::PersonalDataExported(_) => {}
            AccessEvent::RolesEnforced(e) => {
                s.actor_id = Some(e.actor_id.clone());
                let admin = Grant { role: Role::Administrator, scope: Scope::District };
                if !s.grants.contains(&admin) {
                    s.grants.push(admin);
                }
            }
        }
        s
    }
}

/// An access event the index did not count, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Uncounted {
    pub position: u64,
    pub actor_id: EntityId,
    pub recorded_by: EntityId,
    pub reason: &'static str,
}

/// Who holds which roles, folded from the access events of the whole log in position order.
///
/// A grant or revocation counts only if its recorder could grant at that position: the first
/// administrator named by `access.roles_enforced`, a district administrator by a grant that
/// counted, or an administrator of the host's configuration (`roots`). Events that do not count
/// are kept in [`AccessIndex::uncounted`] for audits.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AccessIndex {
    roots: Vec<EntityId>,
    enforced_at: Option<u64>,
    grants: std::collections::BTreeMap<EntityId, Vec<Grant>>,
    uncounted: Vec<Uncounted>,
    /// Positions below this one have been folded.
    folded_to: u64,
}

impl AccessIndex {
    /// An empty index; `roots` hold the administrator role by the host's configuration.
    pub fn new(roots: Vec<EntityId>) -> Self {
        Self { roots, ..Self::default() }
    }

    /// Whether the log says this store enforces roles, and from which position.
    pub fn enforced_at(&self) -> Option<u64> {
        self.enforced_at
    }

    /// Positions below this one are folded.
    pub fn folded_to(&self) -> u64 {
        self.folded_to
    }

    /// Marks positions below `end` as folded (the caller has applied every access event there).
    pub fn advance_to(&mut self, end: u64) {
        self.folded_to = self.folded_to.max(end);
    }

    /// Access events that did not count, oldest first.
    pub fn uncounted(&self) -> &[Uncounted] {
        &self.uncounted
    }

    fn is_district_admin(&self, actor: &EntityId) -> bool {
        self.roots.contains(actor)
            || self
                .grants
                .get(actor)
                .is_some_and(|gs| gs.iter().any(|g| g.role == Role::Administrator && g.scope == Scope::District))
    }

    /// Folds one access event at `position` (events must come in position order; one already
    /// folded is ignored).
    pub fn apply(&mut self, position: u64, event: &AccessEvent) {
        if position < self.folded_to {
            return;
        }
        self.folded_to = position + 1;
        let admin = Grant { role: Role::Administrator, scope: Scope::District };
        let (actor_id, recorded_by, refused) = match event {
            AccessEvent::PersonalDataExported(_) => return,
            AccessEvent::RolesEnforced(e) => {
                let refused = self.enforced_at.is_some().then_some("roles were already enforced");
                if refused.is_none() {
                    self.enforced_at = Some(position);
                    self.hold(&e.actor_id, admin);
                }
                (&e.actor_id, &e.recorded_by, refused)
            }
            AccessEvent::Granted(e) => {
                let refused = (!self.is_district_admin(&e.recorded_by))
                    .then_some("granted by an actor who could not grant roles then");
                if refused.is_none() {
                    self.hold(&e.actor_id, e.grant.clone());
                }
                (&e.actor_id, &e.recorded_by, refused)
            }
            AccessEvent::Revoked(e) => {
                let refused = (!self.is_district_admin(&e.recorded_by))
                    .then_some("revoked by an actor who could not revoke roles then");
                if refused.is_none() {
                    if let Some(held) = self.grants.get_mut(&e.actor_id) {
                        held.retain(|g| *g != e.grant);
                    }
                }
                (&e.actor_id, &e.recorded_by, refused)
            }
        };
        if let Some(reason) = refused {
            self.uncounted.push(Uncounted {
                position,
                actor_id: actor_id.clone(),
                recorded_by: recorded_by.clone(),
                reason,
            });
        }
    }

    fn hold(&mut self, actor: &EntityId, grant: Grant) {
        let held = self.grants.entry(actor.clone()).or_default();
        if !held.contains(&grant) {
            held.push(grant);
        }
    }

    /// The roles `actor` holds now: the host's configuration plus the grants that counted.
    pub fn grants_of(&self, actor: &EntityId) -> Vec<Grant> {
        let mut out = Vec::new();
        if self.roots.contains(actor) {
            out.push(Grant { role: Role::Administrator, scope: Scope::District });
        }
        for g in self.grants.get(actor).into_iter().flatten() {
            if !out.contains(g) {
                out.push(g.clone());
            }
        }
        out
    }

    /// Every actor with a counted grant, and the grants.
    pub fn actors(&self) -> impl Iterator<Item = (&EntityId, &[Grant])> {
        self.grants.iter().filter(|(_, g)| !g.is_empty()).map(|(a, g)| (a, g.as_slice()))
    }
}

/// Which community and enterprise a command touches (None where it touches none).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TargetScope {
    pub community: Option<EntityId>,
    pub enterprise: Option<EntityId>,
}

/// The scope a command touches: from the command when it creates its stream, else from the
/// target stream's first event (a hazard's community and enterprise are fixed when reported).
pub fn target_scope(history: &[DomainEvent], command: &Command) -> TargetScope {
    let from_command = match command {
        Command::Hazard(HazardCommand::Report(c)) => Some((Some(c.community_id.clone()), c.enterprise_id.clone())),
        Command::Incident(IncidentCommand::Report(c)) => Some((Some(c.community_id.clone()), c.enterprise_id.clone())),
        Command::Enterprise(EnterpriseCommand::Register(c)) => {
            Some((Some(c.community_id.clone()), Some(c.enterprise_id.clone())))
        }
        Command::Community(c) => Some((Some(c.target_id().clone()), None)),
        Command::Injury(InjuryCommand::Record(c)) => Some((Some(c.data.community_id.clone()), None)),
        Command::Injury(InjuryCommand::Correct(c)) => Some((Some(c.data.community_id.clone()), None)),
        Command::Project(ProjectCommand::Plan(c)) => Some((Some(c.community_id.clone()), None)),
        _ => None,
    };
    if let Some((community, enterprise)) = from_command {
        return TargetScope { community, enterprise };
    }
    let first = history.iter().find_map(|e| match e {
        DomainEvent::Hazard(HazardEvent::Reported(r)) => Some((Some(r.community_id.clone()), r.enterprise_id.clone())),
        DomainEvent::Incident(IncidentEvent::Reported(r)) => {
            Some((Some(r.community_id.clone()), r.enterprise_id.clone()))
        }
        DomainEvent::Enterprise(EnterpriseEvent::Registered(r)) => {
            Some((Some(r.community_id.clone()), Some(r.enterprise_id.clone())))
        }
        DomainEvent::Community(CommunityEvent::Registered(r)) => Some((Some(r.community_id.clone()), None)),
        DomainEvent::Injury(InjuryEvent::Recorded(r)) => Some((Some(r.data.community_id.clone()), None)),
        DomainEvent::Project(ProjectEvent::Planned(r)) => Some((Some(r.community_id.clone()), None)),
        _ => None,
    });
    match first {
        Some((community, enterprise)) => TargetScope { community, enterprise },
        None => TargetScope::default(),
    }
}

/// The roles that may send a command. An exhaustive match over every command, so a new command
/// does not compile until someone decides who may send it (default deny by construction).
pub fn allowed_roles(command: &Command) -> &'static [Role] {
    use Role::*;
    match command {
        Command::Access(c) => match c {
            AccessCommand::Grant(_)
            | AccessCommand::Revoke(_)
            | AccessCommand::EnforceRoles(_)
            // Opening personal fields in an export is a disclosure (PIPL).
            | AccessCommand::RecordPersonalExport(_) => &[Administrator],
        },
        Command::Community(c) => match c {
            CommunityCommand::Register(_)
            | CommunityCommand::AddGrid(_)
            | CommunityCommand::AssignGridResponsible(_)
            | CommunityCommand::StartCreation(_)
            | CommunityCommand::RecordAssessment(_)
            | CommunityCommand::Name(_)
            | CommunityCommand::RecordReassessment(_) => &[CommunityCommittee, Administrator],
            // Resident population and economy come from the statistics bureau (统计局).
            CommunityCommand::RevisePopulation(_) | CommunityCommand::RecordEconomy(_) => {
                &[CommunityCommittee, PartnerDepartment, Administrator]
            }
            // Control indicators (控制指标) are set by the government above the community.
            CommunityCommand::SetControlIndicator(_) => &[BureauSupervisor, Administrator],
        },
        Command::Enterprise(c) => match c {
            EnterpriseCommand::Register(_)
            | EnterpriseCommand::AssignGrade(_)
            | EnterpriseCommand::TakeEnforcementAction(_) => &[BureauSupervisor],
            EnterpriseCommand::RecordWorkHours(_) | EnterpriseCommand::RecordWorkInjuryCase(_) => {
                &[EnterpriseSafetyOfficer, BureauSupervisor]
            }
        },
        Command::Hazard(c) => match c {
            // Residents report through the 12345 hotline, a partner department.
            HazardCommand::Report(_) => {
                &[GridInspector, EnterpriseSafetyOfficer, CommunityCommittee, BureauSupervisor, PartnerDepartment]
            }
            HazardCommand::NoteProgress(_) | HazardCommand::ReportDone(_) => {
                &[EnterpriseSafetyOfficer, CommunityCommittee, GridInspector]
            }
            HazardCommand::Grade(_)
            | HazardCommand::OrderRectification(_)
            | HazardCommand::ExtendDeadline(_)
            | HazardCommand::ListForSupervision(_)
            | HazardCommand::Verify(_)
            | HazardCommand::Close(_) => &[BureauSupervisor],
        },
        Command::Incident(c) => match c {
            // Traffic police and fire rescue report the incidents of their field.
            IncidentCommand::Report(_) => {
                &[GridInspector, EnterpriseSafetyOfficer, CommunityCommittee, BureauSupervisor, PartnerDepartment]
            }
            IncidentCommand::ReviseCasualties(_) => &[
                GridInspector,
                EnterpriseSafetyOfficer,
                CommunityCommittee,
                BureauSupervisor,
                PartnerDepartment,
                Investigator,
            ],
            // Education (教育) is organised by the community or the enterprise as well.
            IncidentCommand::ConductEducation(_) => {
                &[Investigator, BureauSupervisor, CommunityCommittee, EnterpriseSafetyOfficer]
            }
            IncidentCommand::ReassessGrade(_)
            | IncidentCommand::OpenInvestigation(_)
            | IncidentCommand::ExtendInvestigation(_)
            | IncidentCommand::StartAppraisal(_)
            | IncidentCommand::EndAppraisal(_)
            | IncidentCommand::SubmitInvestigationReport(_)
            | IncidentCommand::DetermineCause(_)
            | IncidentCommand::DealWithResponsible(_)
            | IncidentCommand::ImplementCorrectiveMeasures(_)
            | IncidentCommand::Close(_)
            | IncidentCommand::RecordEvaluation(_) => &[Investigator, BureauSupervisor],
        },
        // Injury surveillance: sentinel hospitals and the CDC (卫生健康, a partner department),
        // and the community's own records.
        Command::Injury(c) => match c {
            InjuryCommand::Record(_) | InjuryCommand::Correct(_) => {
                &[CommunityCommittee, GridInspector, PartnerDepartment]
            }
        },
        Command::Project(c) => match c {
            ProjectCommand::Plan(_)
            | ProjectCommand::PlanIntervention(_)
            | ProjectCommand::ImplementIntervention(_)
            | ProjectCommand::Evaluate(_) => &[CommunityCommittee],
        },
        // Erasing personal information (PIPL) is an administrator's act, district-wide.
        Command::Person(c) => match c {
            PersonCommand::Erase(_) => &[Administrator],
        },
    }
}

/// Rule codes of denials.
pub mod denial {
    /// No role of the actor may send this command type.
    pub const NOT_PERMITTED: &str = "not_permitted";
    /// A role would allow it, but not in the scope the command touches.
    pub const OUT_OF_SCOPE: &str = "out_of_scope";
}

fn covers(scope: &Scope, target: &TargetScope) -> bool {
    match scope {
        Scope::District => true,
        Scope::Community(c) => target.community.as_ref() == Some(c),
        Scope::Enterprise(e) => target.enterprise.as_ref() == Some(e),
    }
}

/// Allows the command if one of the actor's grants has a permitted role whose scope covers the
/// command's target; otherwise a denial naming the rule.
pub fn authorize(actor: &EntityId, grants: &[Grant], command: &Command, target: &TargetScope) -> Result<(), Rejection> {
    let command_type = command.command_type();
    let allowed = allowed_roles(command);
    let permitted: Vec<&Grant> = grants.iter().filter(|g| allowed.contains(&g.role)).collect();
    if permitted.is_empty() {
        return Err(Rejection::new(
            "/actor",
            denial::NOT_PERMITTED,
            format!("{actor} holds no role that may send {command_type} (allowed: {allowed:?})"),
        ));
    }
    if permitted.iter().any(|g| covers(&g.scope, target)) {
        return Ok(());
    }
    Err(Rejection::new(
        "/actor",
        denial::OUT_OF_SCOPE,
        format!(
            "{actor} may send {command_type} only within {:?}; this touches community {:?}, enterprise {:?}",
            permitted.iter().map(|g| &g.scope).collect::<Vec<_>>(),
            target.community.as_ref().map(EntityId::as_str),
            target.enterprise.as_ref().map(EntityId::as_str)
        ),
    ))
}
