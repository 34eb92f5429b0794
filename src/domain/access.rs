//! Who may do what (权限): roles granted to actors within a scope, as events, and the policy
//! that says which roles may send which command within which scope.
//!
//! Invariants:
//! - Grants and revocations are events in the actor's own stream (`access-{actor}`), so who
//!   could do what at any moment is replayable like everything else.
//! - [`authorize`] is pure: the engine hands it the actor's grants, the command and the scope the
//!   command touches ([`target_scope`], from the command or the target stream's first event).
//!   Default deny: a command type missing from [`allowed_roles`] is refused.
//! - Auditors (督查) may send no command at all: they read.
//! - The segregation "the verifier of a rectification is never the one who reported it done"
//!   is a hazard rule (see `hazard.rs`), enforced whatever the roles.

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::command::Command;
use super::community::CommunityEvent;
use super::enterprise::{EnterpriseCommand, EnterpriseEvent};
use super::event::DomainEvent;
use super::hazard::{HazardCommand, HazardEvent};
use super::incident::{IncidentCommand, IncidentEvent};
use super::injury::{InjuryCommand, InjuryEvent};
use super::promotion::{ProjectCommand, ProjectEvent};
use super::{opt_text, rule, Aggregate, DecisionContext, EntityId, Rejection, StreamKind, MAX_TEXT};

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

command_enum!(
    /// Commands addressed to an actor's access stream.
    AccessCommand, actor_id, StreamKind::Access, {
    Grant(GrantRole) = "access.grant_role",
    Revoke(RevokeRole) = "access.revoke_role",
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

event_enum!(
    /// Events of an actor's access stream (`access-{actor}`).
    AccessEvent, actor_id, StreamKind::Access, {
    Granted(RoleGranted) = "access.role_granted" v 1,
    Revoked(RoleRevoked) = "access.role_revoked" v 1,
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
        }])
    }

    fn evolve(mut s: AccessState, e: &AccessEvent) -> AccessState {
        match e {
            AccessEvent::Granted(e) => {
                s.actor_id = Some(e.actor_id.clone());
                s.grants.push(e.grant.clone());
            }
            AccessEvent::Revoked(e) => s.grants.retain(|g| *g != e.grant),
        }
        s
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

/// The roles that may send a command type (default deny: an unlisted type gets none).
pub fn allowed_roles(command_type: &str) -> &'static [Role] {
    use Role::*;
    match command_type {
        "hazard.report" => &[GridInspector, EnterpriseSafetyOfficer, CommunityCommittee, BureauSupervisor],
        "hazard.note_progress" | "hazard.report_rectification_done" => {
            &[EnterpriseSafetyOfficer, CommunityCommittee, GridInspector]
        }
        "hazard.grade"
        | "hazard.order_rectification"
        | "hazard.extend_deadline"
        | "hazard.list_for_supervision"
        | "hazard.verify_rectification"
        | "hazard.close" => &[BureauSupervisor],
        "incident.report" | "incident.revise_casualties" => {
            &[GridInspector, EnterpriseSafetyOfficer, CommunityCommittee, BureauSupervisor]
        }
        t if t.starts_with("incident.") => &[Investigator, BureauSupervisor],
        "enterprise.register" | "enterprise.assign_grade" | "enterprise.take_enforcement_action" => &[BureauSupervisor],
        "enterprise.record_work_hours" | "enterprise.record_work_injury_case" => {
            &[EnterpriseSafetyOfficer, BureauSupervisor]
        }
        t if t.starts_with("community.") => &[CommunityCommittee, Administrator],
        t if t.starts_with("injury.") => &[CommunityCommittee, GridInspector],
        t if t.starts_with("project.") => &[CommunityCommittee],
        "access.grant_role" | "access.revoke_role" => &[Administrator],
        // Erasing personal information (PIPL) is an administrator's act, district-wide.
        "person.erase" => &[Administrator],
        _ => &[],
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
    let allowed = allowed_roles(command_type);
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
