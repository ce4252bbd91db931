//! Every acknowledged batch is preceded by a real `fdatasync`: the child
//! appends one event at a time under `strace`, and in the trace each `ACK`
//! written to stdout must come after an `fdatasync` that followed the
//! previous `ACK`. Needs `strace` (`.ci/run` installs it).

use std::process::Command;

const APPENDS: usize = 50;

#[test]
fn an_fdatasync_precedes_every_acknowledgement() {
    let dir = tempfile::tempdir().unwrap();
    let trace = dir.path().join("trace.txt");
    let data = dir.path().join("log");
    let output = Command::new("strace")
        .args([
            "-f",
            "-e",
            "trace=fsync,fdatasync,write",
            "-e",
            "signal=none",
            "-s",
            "16",
            "-o",
        ])
        .arg(&trace)
        .arg(env!("CARGO_BIN_EXE_casebook-log-crash-writer"))
        .arg(&data)
        .args(["--sequential", &APPENDS.to_string()])
        .output()
        .expect("strace must be installed to run this test (apt-get install strace)");
    assert!(
        output.status.success(),
        "child failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let acks_on_stdout = String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter(|l| l.starts_with("ACK "))
        .count();
    assert_eq!(acks_on_stdout, APPENDS);

    let trace = std::fs::read_to_string(&trace).unwrap();
    let mut synced_since_last_ack = false;
    let mut acks = 0;
    for line in trace.lines() {
        if line.contains("fdatasync(") && line.trim_end().ends_with("= 0") {
            synced_since_last_ack = true;
        } else if line.contains("write(1, \"ACK ") {
            assert!(
                synced_since_last_ack,
                "acknowledgement {acks} was not preceded by an fdatasync"
            );
            synced_since_last_ack = false;
            acks += 1;
        }
    }
    assert_eq!(acks, APPENDS, "every acknowledgement appears in the trace");
}
