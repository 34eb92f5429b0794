//! The checks an append passes before it reaches the writer: shape, sizes, ids, names. Run on
//! the node a caller asks and again on the cluster's leader for a forwarded append.

use super::error::StoreError;
use super::types::*;

/// Checks what can be checked without the writer: shape, sizes, ids, names.
#[cfg_attr(not(feature = "cluster"), expect(dead_code, reason = "the cluster leader checks forwarded appends"))]
pub(crate) fn validate_appends(appends: &[StreamAppend]) -> Result<(), StoreError> {
    validate_request(appends, appends.iter().map(|a| a.events.len()).sum())
}

/// [`validate_appends`], given the number of events.
pub(crate) fn validate_request(appends: &[StreamAppend], total: usize) -> Result<(), StoreError> {
    if appends.is_empty() || total == 0 {
        return Err(StoreError::EmptyAppend);
    }
    if total > MAX_EVENTS_PER_APPEND {
        return Err(StoreError::TooManyEvents { count: total, limit: MAX_EVENTS_PER_APPEND });
    }
    let mut streams = std::collections::HashSet::new();
    let mut ids = std::collections::HashSet::new();
    for a in appends {
        validate_stream_id(&a.stream).map_err(|reason| StoreError::InvalidStreamId { reason })?;
        if !streams.insert(a.stream.as_str()) {
            return Err(StoreError::StreamRepeated { stream: a.stream.clone() });
        }
        if a.events.is_empty() {
            return Err(StoreError::EmptyStreamAppend { stream: a.stream.clone() });
        }
        for (index, e) in a.events.iter().enumerate() {
            let invalid = |reason: String| StoreError::InvalidEvent { stream: a.stream.clone(), index, reason };
            validate_event_type(&e.event_type).map_err(invalid)?;
            validate_actor(&e.actor).map_err(invalid)?;
            if e.payload.len() > MAX_EVENT_BYTES {
                return Err(StoreError::EventTooLarge {
                    stream: a.stream.clone(),
                    index,
                    size: e.payload.len(),
                    limit: MAX_EVENT_BYTES,
                });
            }
            if !ids.insert(e.event_id) {
                return Err(StoreError::DuplicateEventInAppend { event_id: e.event_id });
            }
        }
    }
    Ok(())
}
