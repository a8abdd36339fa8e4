//! cookie (in progress)
