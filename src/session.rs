//! session (in progress)
