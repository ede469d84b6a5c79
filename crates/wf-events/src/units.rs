//! Durations on the command line: `250ms`, `30s`, `10m`, `2h`, `1d`, or bare
//! milliseconds, as every tool's flags take them.

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
}
