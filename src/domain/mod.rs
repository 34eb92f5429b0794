//! Domain (placeholder)
