#![allow(clippy::unwrap_used)]
use casebook_log::{conformance::sample_event, ExpectedRevision, SledLog};
use std::time::Instant;
fn thread_cpu() -> Vec<(String, u64)> {
    let mut out = vec![];
    for e in std::fs::read_dir("/proc/self/task").unwrap() {
        let p = e.unwrap().path();
        let comm = std::fs::read_to_string(p.join("comm"))
            .unwrap_or_default()
            .trim()
            .to_string();
        let stat = std::fs::read_to_string(p.join("stat")).unwrap_or_default();
        let f: Vec<&str> = stat
            .rsplit(')')
            .next()
            .unwrap_or("")
            .split_whitespace()
            .collect();
        let ticks = f.get(11).and_then(|x| x.parse::<u64>().ok()).unwrap_or(0)
            + f.get(12).and_then(|x| x.parse::<u64>().ok()).unwrap_or(0);
        out.push((comm, ticks));
    }
    out
}
#[tokio::main]
async fn main() {
    let dir = tempfile::tempdir().unwrap();
    let log = SledLog::open(dir.path()).unwrap();
    for writers in [64usize, 256] {
        let per = 64_000 / writers;
        let before = thread_cpu();
        let t = Instant::now();
        let mut handles = vec![];
        for w in 0..writers {
            let log = log.clone();
            handles.push(tokio::spawn(async move {
                for i in 0..per {
                    let s = format!("concern-{w}-{}", i / 16);
                    log.append(&s, ExpectedRevision::Any, vec![sample_event("x")])
                        .await
                        .unwrap();
                }
            }));
        }
        for h in handles {
            h.await.unwrap();
        }
        let el = t.elapsed().as_secs_f64();
        let after = thread_cpu();
        let n = (per * writers) as f64;
        let mut line = format!("writers {writers}: {:.0} appends/s;", n / el);
        for (name, ticks) in &after {
            if name.starts_with("casebook-log") {
                let b = before
                    .iter()
                    .find(|(x, _)| x == name)
                    .map(|x| x.1)
                    .unwrap_or(0);
                line += &format!(" {name} {:.1}us/ev", (ticks - b) as f64 * 10_000.0 / n);
            }
        }
        eprintln!("{line}");
    }
}
