//! Who may do what in the story: the roles (权限) `bureau-admin` grants, first thing, to every
//! actor the story's commands name, derived from the actors' ids.

use chrono::Duration;
use serde_json::{json, Value};

use super::{Draft, Gen, ADMIN};

impl Gen {
    /// The district's roles (权限), decided before anything else happens: `bureau-admin` starts
    /// enforcing roles and grants every actor of the story the role its work needs, scoped to
    /// its community or enterprise where it has one. Derived from the actors' ids, so the same
    /// history always grants the same.
    pub(super) fn grant_roles(&mut self) {
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
}
