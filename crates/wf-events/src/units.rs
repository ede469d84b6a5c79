//! Durations on the command line: `250ms`, `30s`, `10m`, `2h`, `1d`, or bare
//! milliseconds, as every tool's flags take them; and event times as people read
//! them (UTC), as every tool prints them.

/// Parses a duration into milliseconds. A bare number is milliseconds.
pub fn parse_duration_ms(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let scale: f64 = match unit {
        "" | "ms" => 1.0,
        "s" => 1e3,
        "m" => 60e3,
        "h" => 3600e3,
        "d" => 86_400e3,
        _ => {
            return Err(format!(
                "invalid duration '{text}': unknown unit '{unit}' (use ms, s, m, h or d)"
            ))
        }
    };
    let value: f64 = num.parse().map_err(|_| {
        format!("invalid duration '{text}': expected a number and a unit, e.g. 30s")
    })?;
    let ms = value * scale;
    if !ms.is_finite() || ms > 1e15 {
        return Err(format!("invalid duration '{text}': too large"));
    }
    Ok(ms.round() as u64)
}

/// The time of day of `ms` since the epoch, UTC: `HH:MM:SS`.
pub fn clock(ms: i64) -> String {
    let s = ms.div_euclid(1000).rem_euclid(86_400);
    format!("{:02}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
}

/// `ms` since the epoch as a UTC date and time: `2026-01-01 00:00:00 UTC`.
pub fn utc(ms: i64) -> String {
    // Days since the epoch to a civil date (Howard Hinnant's algorithm).
    let days = ms.div_euclid(86_400_000);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02} {} UTC", clock(ms))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units() {
        assert_eq!(parse_duration_ms("250"), Ok(250));
        assert_eq!(parse_duration_ms("250ms"), Ok(250));
        assert_eq!(parse_duration_ms("1.5s"), Ok(1500));
        assert_eq!(parse_duration_ms("10m"), Ok(600_000));
        assert_eq!(parse_duration_ms("2h"), Ok(7_200_000));
        assert_eq!(parse_duration_ms("1d"), Ok(86_400_000));
        assert_eq!(parse_duration_ms("0"), Ok(0));
        assert_eq!(
            parse_duration_ms("5 parsecs"),
            Err(
                "invalid duration '5 parsecs': unknown unit ' parsecs' (use ms, s, m, h or d)"
                    .into()
            )
        );
        assert!(parse_duration_ms("s").is_err());
        assert!(parse_duration_ms("-1s").is_err());
    }

    #[test]
    fn dates_and_clocks() {
        assert_eq!(utc(1_767_225_600_000), "2026-01-01 00:00:00 UTC");
        assert_eq!(utc(951_782_400_000), "2000-02-29 00:00:00 UTC");
        assert_eq!(clock(1_767_225_661_000), "00:01:01");
        assert_eq!(clock(-1_000), "23:59:59");
    }
}
