//! The process's own metrics (the standard `process_*` names), read from /proc on
//! each scrape. Where /proc is missing (not Linux), they are left out.

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;

/// Clock ticks per second in /proc/*/stat: USER_HZ, 100 on every Linux ABI.
const TICKS: f64 = 100.0;

#[derive(Debug)]
pub struct ProcessCollector;

#[derive(Debug, PartialEq)]
struct Sample {
    cpu_seconds: f64,
    resident_bytes: f64,
    open_fds: f64,
    start_time_seconds: f64,
}

/// Fields after the command name of /proc/self/stat (which may hold spaces).
fn stat_fields(stat: &str) -> Option<Vec<&str>> {
    let (_, rest) = stat.rsplit_once(')')?;
    Some(rest.split_whitespace().collect())
}

fn read() -> Option<Sample> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let f = stat_fields(&stat)?;
    // Field n of stat(5) is f[n - 3]: utime 14, stime 15, starttime 22.
    let ticks = |n: usize| f.get(n - 3)?.parse::<f64>().ok();
    let cpu_seconds = (ticks(14)? + ticks(15)?) / TICKS;
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let rss_kb: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    let boot: f64 = std::fs::read_to_string("/proc/stat")
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix("btime "))?
        .trim()
        .parse()
        .ok()?;
    let open_fds = std::fs::read_dir("/proc/self/fd").ok()?.count() as f64;
    Some(Sample {
        cpu_seconds,
        resident_bytes: rss_kb * 1024.0,
        open_fds,
        start_time_seconds: boot + ticks(22)? / TICKS,
    })
}

impl Collector for ProcessCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let Some(s) = read() else { return Ok(()) };
        let cpu = ConstCounter::new(s.cpu_seconds);
        cpu.encode(encoder.encode_descriptor(
            "process_cpu_seconds",
            "User and system CPU time spent, in seconds",
            None,
            cpu.metric_type(),
        )?)?;
        for (name, help, value) in [
            (
                "process_resident_memory_bytes",
                "Resident memory size, in bytes",
                s.resident_bytes,
            ),
            ("process_open_fds", "Open file descriptors", s.open_fds),
            (
                "process_start_time_seconds",
                "Start time of the process since the Unix epoch, in seconds",
                s.start_time_seconds,
            ),
        ] {
            let g = ConstGauge::new(value);
            g.encode(encoder.encode_descriptor(name, help, None, g.metric_type())?)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_command_name_with_spaces_and_parens_does_not_shift_fields() {
        let stat =
            "4242 (wf prom (x)) S 1 4242 4242 0 -1 4194304 100 0 0 0 250 50 0 0 20 0 3 0 1234 0 0";
        let f = stat_fields(stat).unwrap();
        assert_eq!(f[14 - 3], "250");
        assert_eq!(f[15 - 3], "50");
        assert_eq!(f[22 - 3], "1234");
    }

    #[test]
    fn reads_this_process() {
        let s = read().unwrap();
        assert!(s.resident_bytes > 1e5, "{s:?}");
        assert!(s.open_fds >= 3.0, "{s:?}");
        assert!(s.start_time_seconds > 1.6e9, "{s:?}");
    }
}
