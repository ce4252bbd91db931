//! How fast the machine's cores were around a load and how idle during it,
//! so that a report says on what kind of machine it was measured.
//!
//! This machine is a virtual one whose host runs other work. The guest
//! sees no steal time: when the host is busy every thread simply runs
//! slower, and a CPU-bound load drops with it (by half or more in busy
//! spells, `docs/PERFORMANCE.md` "The machine"). Two figures make that
//! visible in the report itself:
//! - the *probe*: a fixed piece of arithmetic timed on every core at once,
//!   before the server starts and after it stops; it takes longer the
//!   busier the host;
//! - the *idle share* of each load, from the kernel's counters in
//!   `/proc/stat`: near zero when the load used every core it had.

use std::hint::black_box;
use std::time::Instant;

/// Where the kernel counts the CPUs' time.
const PROC_STAT: &str = "/proc/stat";
/// Rounds of the probe's arithmetic on each core: about a tenth of a second
/// on a quiet host.
const PROBE_ROUNDS: u64 = 100_000_000;

/// Times [`PROBE_ROUNDS`] of a multiply-and-rotate on each of `cores`
/// threads at once; the milliseconds until the last one is done.
pub fn probe_ms(cores: usize) -> f64 {
    let started = Instant::now();
    std::thread::scope(|scope| {
        for seed in 0..cores.max(1) as u64 {
            scope.spawn(move || {
                let mut x = black_box(seed | 1);
                for round in 0..PROBE_ROUNDS {
                    x = x.wrapping_mul(0x9E37_79B9_7F4A_7C15).rotate_left(17) ^ round;
                }
                black_box(x)
            });
        }
    });
    started.elapsed().as_secs_f64() * 1_000.0
}

/// The machine's CPU time so far, all cores together, in the kernel's ticks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CpuTimes {
    /// Ticks of every kind: user, nice, system, idle, iowait, irq,
    /// softirq and steal.
    total: u64,
    /// Ticks idle (waiting for I/O included).
    idle: u64,
}

impl CpuTimes {
    /// The counters now; `None` where the kernel does not give them (not
    /// Linux, or a line not as expected): the report then leaves the share
    /// out.
    pub fn now() -> Option<Self> {
        let text = std::fs::read_to_string(PROC_STAT).ok()?;
        Self::parse(&text)
    }

    /// Reads the first line of `/proc/stat`:
    /// `cpu user nice system idle iowait irq softirq steal guest guest_nice`
    /// (the guests' time is already counted in user and nice).
    fn parse(text: &str) -> Option<Self> {
        let line = text.lines().next()?;
        let mut fields = line.split_whitespace();
        if fields.next()? != "cpu" {
            return None;
        }
        let ticks: Vec<u64> = fields
            .take(8)
            .map(str::parse)
            .collect::<Result<_, _>>()
            .ok()?;
        let [user, nice, system, idle, iowait, irq, softirq, steal] = ticks.try_into().ok()?;
        Some(CpuTimes {
            total: user + nice + system + idle + iowait + irq + softirq + steal,
            idle: idle + iowait,
        })
    }

    /// The idle share from `self` to `later`, per cent; `None` if no tick
    /// passed.
    pub fn idle_percent_until(&self, later: &CpuTimes) -> Option<f64> {
        let total = later.total.checked_sub(self.total).filter(|t| *t > 0)?;
        Some(100.0 * later.idle.saturating_sub(self.idle) as f64 / total as f64)
    }
}

/// Runs `work` and measures the machine's idle share while it ran.
pub async fn idle_during<T>(work: impl std::future::Future<Output = T>) -> (T, Option<f64>) {
    let before = CpuTimes::now();
    let out = work.await;
    let after = CpuTimes::now();
    let idle = before
        .zip(after)
        .and_then(|(b, a)| b.idle_percent_until(&a));
    (out, idle)
}

#[cfg(test)]
mod tests {
    use super::*;

    const STAT: &str = "cpu  8570880 6247 928065 2021599 108756 0 180902 357069 0 0\n\
                        cpu0 4285440 3123 464032 1010799 54378 0 90451 178534 0 0\n";

    #[test]
    fn the_first_line_gives_the_totals_of_every_core() {
        let times = CpuTimes::parse(STAT).unwrap();
        assert_eq!(times.idle, 2_021_599 + 108_756);
        assert_eq!(
            times.total,
            8_570_880 + 6_247 + 928_065 + 2_021_599 + 108_756 + 180_902 + 357_069
        );
    }

    #[test]
    fn a_line_not_as_expected_gives_nothing() {
        assert_eq!(CpuTimes::parse(""), None);
        assert_eq!(CpuTimes::parse("intr 1 2 3 4 5 6 7 8 9"), None);
        assert_eq!(CpuTimes::parse("cpu 1 2 3"), None);
        assert_eq!(CpuTimes::parse("cpu 1 2 3 4 5 6 7 x"), None);
    }

    #[test]
    fn the_idle_share_is_the_idle_part_of_the_ticks_between_two_reads() {
        let before = CpuTimes {
            total: 1_000,
            idle: 100,
        };
        let after = CpuTimes {
            total: 1_400,
            idle: 200,
        };
        let idle = before.idle_percent_until(&after).unwrap();
        assert!((idle - 25.0).abs() < 1e-9, "{idle}");
        assert_eq!(before.idle_percent_until(&before), None, "no tick passed");
    }
}
