//! The auditor's and operator's subcommands through the real binary:
//! `export`, `verify` (a file and a data directory), `import`, on the demo
//! province; a changed export is refused with the line named.

use crate::server::binary;
use std::path::Path;
use std::process::{Command, Output};

fn casebook(args: &[&str]) -> Output {
    Command::new(binary())
        .args(args)
        .output()
        .expect("the binary runs")
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn export_verify_import_and_export_again_give_the_same_file() {
    let root = tempfile::tempdir().unwrap();
    let (data, restored) = (root.path().join("data"), root.path().join("restored"));
    let (first, second) = (
        root.path().join("first.jsonl"),
        root.path().join("second.jsonl"),
    );
    assert!(casebook(&["demo", "--data", path(&data)]).status.success());

    let exported = casebook(&["export", "--data", path(&data), "--out", path(&first)]);
    assert!(exported.status.success(), "{}", text(&exported));
    let verified = casebook(&["verify", path(&first)]);
    assert!(verified.status.success(), "{}", text(&verified));
    assert!(text(&verified).contains("signature valid"));
    let checked = casebook(&["verify", "--data", path(&data)]);
    assert!(checked.status.success(), "{}", text(&checked));

    let key = data.join("audit/signing-key");
    let imported = casebook(&[
        "import",
        path(&first),
        "--data",
        path(&restored),
        "--signing-key",
        path(&key),
    ]);
    assert!(imported.status.success(), "{}", text(&imported));
    let again = casebook(&["export", "--data", path(&restored), "--out", path(&second)]);
    assert!(again.status.success(), "{}", text(&again));
    assert!(
        std::fs::read(&first).unwrap() == std::fs::read(&second).unwrap(),
        "export → import → export is byte-identical"
    );
}

#[test]
fn a_changed_export_is_refused_and_the_line_named() {
    let root = tempfile::tempdir().unwrap();
    let (data, file) = (root.path().join("data"), root.path().join("log.jsonl"));
    assert!(casebook(&["demo", "--data", path(&data)]).status.success());
    assert!(
        casebook(&["export", "--data", path(&data), "--out", path(&file)])
            .status
            .success()
    );
    let original = std::fs::read_to_string(&file).unwrap();
    let mut lines: Vec<&str> = original.lines().collect();
    let changed = lines[1000].replacen("\"revision\":", "\"revision\":1", 1);
    lines[1000] = &changed;
    std::fs::write(&file, lines.join("\n") + "\n").unwrap();
    let verified = casebook(&["verify", path(&file)]);
    assert!(!verified.status.success());
    assert!(
        text(&verified).contains("line 1001 (position 1000)"),
        "{}",
        text(&verified)
    );
    let refused = casebook(&[
        "import",
        path(&file),
        "--data",
        path(&root.path().join("new")),
    ]);
    assert!(!refused.status.success());
    assert!(
        !root.path().join("new/log").exists(),
        "nothing is restored from a bad export"
    );
}
