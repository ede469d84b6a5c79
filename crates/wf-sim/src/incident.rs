//! Incidents: a slowdown, an error burst or a drop in traffic over a range of
//! the run, so that anomaly detection can be tested against ground truth.
//!
//! An incident changes the transactions that start inside its range (event time
//! since the run's start): their steps take `x` times as long, or fail at least
//! at the given rate, or they start at a fraction of `--rate`. Outside the range
//! nothing changes, and a run with an incident draws the same random numbers as
//! one without, so the rest of the output is the same transactions.

use wf_events::units::parse_duration_ms;

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Effect {
    /// Step latencies multiplied by this.
    Slowdown(f64),
    /// Every step fails at least this often.
    Errors(f64),
    /// Starts at this fraction of the rate.
    Drop(f64),
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Incident {
    pub effect: Effect,
    /// From and to, in ms since the run's start; `from` included, `to` not.
    pub from_ms: i64,
    pub to_ms: i64,
}

pub const GRAMMAR: &str = "KIND:FROM-TO[:AMOUNT], KIND one of slowdown (AMOUNT a factor, \
     e.g. x5 [default]), errors (a failure rate, e.g. 0.5 [default] or 50%) or drop (the \
     share of --rate left, e.g. 0.1 [default]); FROM and TO durations since the start, e.g. \
     slowdown:5m-7m:x4";

impl Incident {
    pub fn parse(text: &str) -> Result<Incident, String> {
        let bad = |why: &str| format!("--incident '{text}': {why}; the form is {GRAMMAR}");
        let mut parts = text.splitn(3, ':');
        let kind = parts.next().unwrap_or("");
        let range = parts.next().ok_or_else(|| bad("no range"))?;
        let amount = parts.next();
        let (from, to) = range
            .split_once('-')
            .ok_or_else(|| bad("the range is FROM-TO"))?;
        let from_ms = parse_duration_ms(from).map_err(|e| bad(&e))?;
        let to_ms = parse_duration_ms(to).map_err(|e| bad(&e))?;
        if to_ms <= from_ms {
            return Err(bad("TO must come after FROM"));
        }
        let number = |s: &str| -> Option<f64> {
            match s.strip_suffix('%') {
                Some(p) => p.parse::<f64>().ok().map(|v| v / 100.0),
                None => s.parse::<f64>().ok(),
            }
        };
        let effect = match kind {
            "slowdown" => {
                let f = match amount {
                    None => 5.0,
                    Some(a) => a
                        .strip_prefix('x')
                        .unwrap_or(a)
                        .parse::<f64>()
                        .ok()
                        .filter(|f| f.is_finite() && *f > 0.0 && *f <= 1000.0)
                        .ok_or_else(|| bad("a slowdown's AMOUNT is a factor above 0, e.g. x5"))?,
                };
                Effect::Slowdown(f)
            }
            "errors" => {
                let r = match amount {
                    None => 0.5,
                    Some(a) => number(a)
                        .filter(|r| (0.0..=1.0).contains(r))
                        .ok_or_else(|| bad("an error burst's AMOUNT is a rate from 0 to 1"))?,
                };
                Effect::Errors(r)
            }
            "drop" => {
                let r = match amount {
                    None => 0.1,
                    Some(a) => number(a)
                        .filter(|r| *r > 0.0 && *r <= 1.0)
                        .ok_or_else(|| bad("a drop's AMOUNT is the share left, above 0 up to 1"))?,
                };
                Effect::Drop(r)
            }
            _ => return Err(bad(&format!("unknown kind '{kind}'"))),
        };
        let ms = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
        Ok(Incident {
            effect,
            from_ms: ms(from_ms),
            to_ms: ms(to_ms),
        })
    }

    pub fn covers(&self, since_start_ms: i64) -> bool {
        (self.from_ms..self.to_ms).contains(&since_start_ms)
    }
}

/// What the incidents in force at one moment do together.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct InForce {
    pub slowdown: f64,
    pub error_rate: f64,
    pub rate_share: f64,
}

pub fn in_force(incidents: &[Incident], since_start_ms: i64) -> InForce {
    let mut f = InForce {
        slowdown: 1.0,
        error_rate: 0.0,
        rate_share: 1.0,
    };
    for i in incidents.iter().filter(|i| i.covers(since_start_ms)) {
        match i.effect {
            Effect::Slowdown(x) => f.slowdown *= x,
            Effect::Errors(r) => f.error_rate = f.error_rate.max(r),
            Effect::Drop(r) => f.rate_share *= r,
        }
    }
    f
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_each_kind() {
        assert_eq!(
            Incident::parse("slowdown:5m-7m:x4"),
            Ok(Incident {
                effect: Effect::Slowdown(4.0),
                from_ms: 300_000,
                to_ms: 420_000
            })
        );
        assert_eq!(
            Incident::parse("errors:30s-60s").map(|i| i.effect),
            Ok(Effect::Errors(0.5))
        );
        assert_eq!(
            Incident::parse("errors:30s-60s:25%").map(|i| i.effect),
            Ok(Effect::Errors(0.25))
        );
        assert_eq!(
            Incident::parse("drop:0-1m:0.2").map(|i| i.effect),
            Ok(Effect::Drop(0.2))
        );
    }

    #[test]
    fn bad_forms_say_what_is_wrong() {
        let err = Incident::parse("slow:1m-2m").unwrap_err();
        assert!(
            err.starts_with(
                "--incident 'slow:1m-2m': unknown kind 'slow'; the form is KIND:FROM-TO"
            ),
            "{err}"
        );
        assert!(Incident::parse("drop:2m-1m")
            .unwrap_err()
            .contains("TO must come after FROM"));
        assert!(Incident::parse("drop:1m")
            .unwrap_err()
            .contains("the range is FROM-TO"));
        assert!(Incident::parse("drop").unwrap_err().contains("no range"));
        assert!(Incident::parse("drop:1m-2m:0")
            .unwrap_err()
            .contains("share left"));
        assert!(Incident::parse("errors:1m-2m:2")
            .unwrap_err()
            .contains("rate from 0 to 1"));
        assert!(Incident::parse("slowdown:1m-2m:x0")
            .unwrap_err()
            .contains("factor"));
    }

    #[test]
    fn effects_combine_inside_their_ranges_only() {
        let i = [
            Incident::parse("slowdown:1m-3m:x2").unwrap(),
            Incident::parse("slowdown:2m-4m:x3").unwrap(),
            Incident::parse("errors:0-1m:0.3").unwrap(),
        ];
        assert_eq!(in_force(&i, 150_000).slowdown, 6.0);
        assert_eq!(in_force(&i, 60_000).slowdown, 2.0);
        assert_eq!(in_force(&i, 59_999).error_rate, 0.3);
        assert_eq!(in_force(&i, 240_000), in_force(&[], 0));
    }
}
