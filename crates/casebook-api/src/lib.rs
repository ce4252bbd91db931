//! The HTTP API: every command and query, secured and documented. (work in progress)
