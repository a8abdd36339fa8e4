//! jwt (in progress)
