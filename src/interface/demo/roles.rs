//! Who may do what in the story: the roles (权限) `bureau-admin` grants, first thing, to every
//! actor the story's commands name, derived from the actors' ids.

use chrono::Duration;

use super::{id, Draft, Gen, ADMIN};
use crate::domain::access::{AccessCommand, EnforceRoles, GrantRole};
use crate::events::access::{Role, Scope};
use crate::events::EntityId;

impl Gen {
    /// The district's roles (权限), decided before anything else happens: `bureau-admin` starts
    /// enforcing roles and grants every actor of the story the role its work needs, scoped to
    /// its community or enterprise where it has one. Derived from the actors' ids, so the same
    /// history always grants the same.
    pub(super) fn grant_roles(&mut self) {
        let Some(first) = self.drafts.iter().map(|d| d.at).min() else { return };
        let Some(admin) = id(ADMIN) else { return };
        let at = first - Duration::minutes(1);
        let actors: std::collections::BTreeSet<EntityId> = self.drafts.iter().map(|d| d.actor.clone()).collect();
        let enforce = EnforceRoles { actor_id: admin.clone(), reason: Some("示范区启用权限管理".to_string()) };
        let grant = |actor_id: &EntityId, role: Role, scope: Scope| {
            AccessCommand::Grant(GrantRole { actor_id: actor_id.clone(), role, scope, reason: None })
        };
        let mut access =
            vec![AccessCommand::EnforceRoles(enforce), grant(&admin, Role::BureauSupervisor, Scope::District)];
        for actor in actors.iter().filter(|a| **a != admin) {
            let community = |rest: &str| id(rest.split('-').next().unwrap_or(rest)).map(Scope::Community);
            let name = actor.as_str();
            let (role, scope) = if let Some(rest) = name.strip_prefix("grid-") {
                (Role::GridInspector, community(rest))
            } else if let Some(rest) = name.strip_prefix("rect-") {
                (Role::GridInspector, community(rest))
            } else if let Some(rest) = name.strip_prefix("duty-") {
                (Role::CommunityCommittee, community(rest))
            } else if let Some(e) =
                name.strip_prefix("officer-").or_else(|| name.strip_prefix("safety-").filter(|e| e.starts_with('e')))
            {
                (Role::EnterpriseSafetyOfficer, id(e).map(Scope::Enterprise))
            } else if name == "safety-officer" {
                (Role::EnterpriseSafetyOfficer, Some(Scope::District))
            } else if name.starts_with("bureau-") || name == "city-safety-committee" {
                (Role::BureauSupervisor, Some(Scope::District))
            } else if name.starts_with("committee-") {
                (Role::CommunityCommittee, Some(Scope::District))
            } else if name == "investigation-office" {
                (Role::Investigator, Some(Scope::District))
            } else {
                // Hospitals, the CDC, traffic police, fire rescue, the 12345 hotline, statistics.
                (Role::PartnerDepartment, Some(Scope::District))
            };
            if let Some(scope) = scope {
                access.push(grant(actor, role, scope));
            }
        }
        let drafts: Vec<Draft> = access
            .into_iter()
            .map(|c| Draft { at, seq: 0, actor: admin.clone(), command: c.into(), refusal: false })
            .collect();
        self.drafts.splice(0..0, drafts);
    }
}
