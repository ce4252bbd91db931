//! The rules of the case book (work in progress).
