//! The `casebook` command (work in progress).

fn main() {}
