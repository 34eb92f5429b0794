//! Who may do what (权限): the permission table that says which roles may send which command,
//! the scope a command touches, and the check of an actor's grants against both.
//!
//! Invariants:
//! - [`authorize`] is pure: the engine hands it the actor's grants, the command and the scope the
//!   command touches ([`target_scope`], from the command or the target stream's first event).
//!   Default deny: [`allowed_roles`] matches every command exhaustively, so a new command does
//!   not compile until its roles are decided.
//! - Auditors (督查) may send no command at all: they read.
//! - The segregation "the verifier of a rectification is never the one who reported it done"
//!   is a hazard rule (see `hazard.rs`), enforced whatever the roles.

use super::access::AccessCommand;
use super::command::Command;
use super::community::CommunityCommand;
use super::enterprise::EnterpriseCommand;
use super::hazard::HazardCommand;
use super::incident::IncidentCommand;
use super::injury::InjuryCommand;
use super::person::PersonCommand;
use super::promotion::ProjectCommand;
use super::Rejection;
use crate::events::access::{Grant, Role, Scope};
use crate::events::community::CommunityEvent;
use crate::events::enterprise::EnterpriseEvent;
use crate::events::hazard::HazardEvent;
use crate::events::incident::IncidentEvent;
use crate::events::injury::InjuryEvent;
use crate::events::promotion::ProjectEvent;
use crate::events::{DomainEvent, EntityId};

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
            // The unit applies in writing; the bureau records an application it received.
            HazardCommand::ApplyToClose(_) => &[EnterpriseSafetyOfficer, CommunityCommittee, BureauSupervisor],
            HazardCommand::RecordOnsiteCheck(_) => &[BureauSupervisor],
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
            // The bureaus pass reports up (art. 10), and so do the departments with supervision
            // duties of their own field (traffic police, fire rescue).
            IncidentCommand::Escalate(_) => &[BureauSupervisor, PartnerDepartment],
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
            | IncidentCommand::ExtendSignOff(_)
            // Imports from another system say which incidents were closed there.
            | IncidentCommand::MarkClosedElsewhere(_)
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
