//! The request path of a question, as the API's routes read it: what a client (the CLI with
//! `--server`, the dashboard) sends to get the same answer the library gives.

use crate::interface::query::{Moment, Query, StatsBy};

fn push(params: &mut Vec<(String, String)>, name: &str, value: Option<String>) {
    if let Some(v) = value {
        params.push((name.to_string(), v));
    }
}

/// Percent-encodes a query parameter's value (ids and codes are ASCII; dates and instants carry
/// `:` and `+`).
fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// `/v1/…?…` for a question at a moment.
pub fn path_of(query: &Query, moment: &Moment) -> String {
    let mut p: Vec<(String, String)> = Vec::new();
    let path = match query {
        Query::Stats(q) => {
            push(&mut p, "year", q.year.map(|y| y.to_string()));
            push(&mut p, "compare", q.compare.map(|y| y.to_string()));
            push(&mut p, "community", q.community.clone());
            push(&mut p, "category", q.category.clone());
            let by = match q.by {
                StatsBy::Category => "category",
                StatsBy::Community => "community",
                StatsBy::Month => "month",
                StatsBy::Grade => "grade",
            };
            push(&mut p, "by", Some(by.to_string()));
            push(&mut p, "year_to_date", q.year_to_date.map(|b| b.to_string()));
            "/v1/stats".to_string()
        }
        Query::Kpis(q) => {
            push(&mut p, "year", q.year.map(|y| y.to_string()));
            push(&mut p, "community", q.community.clone());
            push(&mut p, "ltifr_base", Some(q.ltifr_base.to_string()));
            "/v1/kpis".to_string()
        }
        Query::Hazards(q) => {
            push(&mut p, "community", q.community.clone());
            "/v1/hazards".to_string()
        }
        Query::Incidents(q) => {
            push(&mut p, "community", q.community.clone());
            push(&mut p, "open", q.open_only.then(|| "true".to_string()));
            "/v1/incidents".to_string()
        }
        Query::Trail(q) => format!("/v1/incidents/{}/trail", encode(&q.incident)),
        Query::Streaks(q) => {
            push(&mut p, "community", q.community.clone());
            push(&mut p, "category", q.category.clone());
            let rule = serde_json::to_value(q.rule).ok().and_then(|v| v.as_str().map(str::to_string));
            push(&mut p, "rule", rule);
            push(&mut p, "years", Some(q.years.to_string()));
            "/v1/streaks".to_string()
        }
        Query::Projects(q) => {
            push(&mut p, "community", q.community.clone());
            "/v1/projects".to_string()
        }
    };
    push(&mut p, "as_of", moment.as_of.map(|t| t.to_rfc3339()));
    push(&mut p, "on", moment.on.map(|d| d.to_string()));
    if p.is_empty() {
        return path;
    }
    let q: Vec<String> = p.iter().map(|(k, v)| format!("{k}={}", encode(v))).collect();
    format!("{path}?{}", q.join("&"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::interface::query::{IncidentsQuery, StatsQuery};

    #[test]
    fn paths_carry_every_option() {
        let m = Moment {
            as_of: Some("2026-06-05T00:00:00Z".parse().unwrap()),
            on: chrono::NaiveDate::from_ymd_opt(2026, 5, 31),
        };
        let s = Query::Stats(StatsQuery { category: Some("fire".into()), by: StatsBy::Grade, ..Default::default() });
        assert_eq!(
            path_of(&s, &m),
            "/v1/stats?category=fire&by=grade&as_of=2026-06-05T00%3A00%3A00%2B00%3A00&on=2026-05-31"
        );
        let i = Query::Incidents(IncidentsQuery { community: Some("c01".into()), open_only: true });
        assert_eq!(path_of(&i, &Moment::default()), "/v1/incidents?community=c01&open=true");
    }
}
