//! The token lifecycle (in progress).
