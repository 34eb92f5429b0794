//! What `/metrics` shows, in Prometheus' text format: commands by outcome, a histogram of the
//! time from a command's arrival to its answer, events appended, and the live projections' lag
//! behind the log.

use std::sync::atomic::{AtomicU64, Ordering};

/// Upper bounds of the latency histogram's buckets, in seconds.
const BUCKETS: [f64; 12] = [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 5.0];

/// How a command ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Committed,
    AlreadyCommitted,
    Refused,
    Denied,
    Unauthorized,
    Invalid,
    Conflict,
    Failed,
}

const OUTCOMES: [(Outcome, &str); 8] = [
    (Outcome::Committed, "committed"),
    (Outcome::AlreadyCommitted, "already_committed"),
    (Outcome::Refused, "refused"),
    (Outcome::Denied, "denied"),
    (Outcome::Unauthorized, "unauthorized"),
    (Outcome::Invalid, "invalid"),
    (Outcome::Conflict, "conflict"),
    (Outcome::Failed, "failed"),
];

/// Counters, updated without locks.
#[derive(Debug, Default)]
pub struct Metrics {
    outcomes: [AtomicU64; 8],
    buckets: [AtomicU64; 12],
    latency_count: AtomicU64,
    latency_micros: AtomicU64,
    events: AtomicU64,
    queries: AtomicU64,
}

impl Metrics {
    pub fn command(&self, outcome: Outcome, elapsed: std::time::Duration, events: usize) {
        if let Some(i) = OUTCOMES.iter().position(|(o, _)| *o == outcome) {
            self.outcomes[i].fetch_add(1, Ordering::Relaxed);
        }
        let s = elapsed.as_secs_f64();
        for (i, bound) in BUCKETS.iter().enumerate() {
            if s <= *bound {
                self.buckets[i].fetch_add(1, Ordering::Relaxed);
            }
        }
        self.latency_count.fetch_add(1, Ordering::Relaxed);
        self.latency_micros.fetch_add(elapsed.as_micros() as u64, Ordering::Relaxed);
        self.events.fetch_add(events as u64, Ordering::Relaxed);
    }

    pub fn query(&self) {
        self.queries.fetch_add(1, Ordering::Relaxed);
    }

    /// The text exposition; `head` and `live` are the log's and the projections' positions.
    pub fn render(&self, head: u64, live: u64) -> String {
        let mut out = String::new();
        out.push_str(
            "# HELP anquan_commands_total Commands received, by outcome.\n# TYPE anquan_commands_total counter\n",
        );
        for (i, (_, name)) in OUTCOMES.iter().enumerate() {
            out.push_str(&format!(
                "anquan_commands_total{{outcome=\"{name}\"}} {}\n",
                self.outcomes[i].load(Ordering::Relaxed)
            ));
        }
        out.push_str("# HELP anquan_command_seconds Time from a command's arrival to its answer.\n# TYPE anquan_command_seconds histogram\n");
        for (i, bound) in BUCKETS.iter().enumerate() {
            out.push_str(&format!(
                "anquan_command_seconds_bucket{{le=\"{bound}\"}} {}\n",
                self.buckets[i].load(Ordering::Relaxed)
            ));
        }
        let count = self.latency_count.load(Ordering::Relaxed);
        out.push_str(&format!("anquan_command_seconds_bucket{{le=\"+Inf\"}} {count}\n"));
        out.push_str(&format!(
            "anquan_command_seconds_sum {:.6}\nanquan_command_seconds_count {count}\n",
            self.latency_micros.load(Ordering::Relaxed) as f64 / 1e6
        ));
        out.push_str("# HELP anquan_events_appended_total Events appended through this service.\n# TYPE anquan_events_appended_total counter\n");
        out.push_str(&format!("anquan_events_appended_total {}\n", self.events.load(Ordering::Relaxed)));
        out.push_str("# HELP anquan_queries_total Questions answered.\n# TYPE anquan_queries_total counter\n");
        out.push_str(&format!("anquan_queries_total {}\n", self.queries.load(Ordering::Relaxed)));
        out.push_str("# HELP anquan_log_position Events in the log.\n# TYPE anquan_log_position gauge\n");
        out.push_str(&format!("anquan_log_position {head}\n"));
        out.push_str("# HELP anquan_projection_lag_events Events the live projections have not folded yet.\n# TYPE anquan_projection_lag_events gauge\n");
        out.push_str(&format!("anquan_projection_lag_events {}\n", head.saturating_sub(live)));
        out
    }
}
