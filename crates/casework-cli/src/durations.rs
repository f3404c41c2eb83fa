//! Call durations as people type them: `25m`, `1h30m`, `1h`, `90` (minutes).

/// Parses a duration into whole minutes.
pub fn parse_minutes(text: &str) -> Result<u32, String> {
    let t = text.trim().to_ascii_lowercase().replace(' ', "");
    let bad = || format!("invalid duration {text:?}: use 25m, 1h30m, 1h or a number of minutes");
    if t.is_empty() {
        return Err(bad());
    }
    if t.bytes().all(|b| b.is_ascii_digit()) {
        return t.parse().map_err(|_| bad());
    }
    let mut total: u64 = 0;
    let mut digits = String::new();
    let mut seen_h = false;
    let mut seen_m = false;
    for c in t.chars() {
        match c {
            '0'..='9' => digits.push(c),
            'h' if !seen_h && !seen_m && !digits.is_empty() => {
                total += digits.parse::<u64>().map_err(|_| bad())? * 60;
                digits.clear();
                seen_h = true;
            }
            'm' if !seen_m && !digits.is_empty() => {
                total += digits.parse::<u64>().map_err(|_| bad())?;
                digits.clear();
                seen_m = true;
            }
            _ => return Err(bad()),
        }
        if total > u64::from(u32::MAX) {
            return Err(bad());
        }
    }
    if !digits.is_empty() {
        return Err(bad());
    }
    u32::try_from(total).map_err(|_| bad())
}

#[cfg(test)]
mod tests {
    use super::parse_minutes;

    #[test]
    fn durations_people_type() {
        assert_eq!(parse_minutes("25m"), Ok(25));
        assert_eq!(parse_minutes("1h30m"), Ok(90));
        assert_eq!(parse_minutes("1h 30m"), Ok(90));
        assert_eq!(parse_minutes("2H"), Ok(120));
        assert_eq!(parse_minutes("45"), Ok(45));
        for bad in [
            "",
            "m",
            "1.5h",
            "30m1h",
            "1h1h",
            "25s",
            "-5m",
            "99999999999h",
        ] {
            assert!(parse_minutes(bad).is_err(), "{bad:?}");
        }
    }
}
