//! Timestamps as CloudTrail, Health and GuardDuty really write them, normalised to
//! RFC 3339 UTC (`2024-05-01T12:00:00Z`) for the report. Pure arithmetic, no clock.

/// Normalise a timestamp. Accepts ISO 8601 with or without fractional seconds and with `Z`
/// or an offset, the RFC 1123 form AWS Health uses (`Sat, 05 Jun 2016 15:10:09 GMT`), and
/// epoch seconds or milliseconds. Returns None for anything else.
pub fn normalize(raw: &str) -> Option<String> {
    let s = raw.trim();
    if s.is_empty() {
        return None;
    }
    if s.chars().all(|c| c.is_ascii_digit()) {
        let n: i64 = s.parse().ok()?;
        // Values past the year 2286 in seconds are milliseconds.
        let secs = if n > 9_999_999_999 { n / 1000 } else { n };
        return Some(format_epoch(secs));
    }
    parse_iso(s).or_else(|| parse_rfc1123(s)).map(format_epoch)
}

/// Seconds since the epoch, for the timestamps [`normalize`] reads.
pub fn epoch(raw: &str) -> Option<i64> {
    let s = raw.trim();
    if !s.is_empty() && s.chars().all(|c| c.is_ascii_digit()) {
        let n: i64 = s.parse().ok()?;
        return Some(if n > 9_999_999_999 { n / 1000 } else { n });
    }
    parse_iso(s).or_else(|| parse_rfc1123(s))
}

fn parse_iso(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() < 19 || b[4] != b'-' || b[7] != b'-' || !(b[10] == b'T' || b[10] == b' ') {
        return None;
    }
    let num = |r: std::ops::Range<usize>| s.get(r)?.parse::<i64>().ok();
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, se) = (num(11..13)?, num(14..16)?, num(17..19)?);
    let mut rest = &s[19..];
    if let Some(r) = rest.strip_prefix('.') {
        let digits = r.chars().take_while(|c| c.is_ascii_digit()).count();
        rest = &r[digits..];
    }
    let offset = match rest {
        "" | "Z" | "z" => 0,
        r if (r.starts_with('+') || r.starts_with('-')) && (r.len() == 6 || r.len() == 5) => {
            let sign = if r.starts_with('-') { -1 } else { 1 };
            let digits: String = r[1..].chars().filter(|c| c.is_ascii_digit()).collect();
            if digits.len() != 4 {
                return None;
            }
            let oh: i64 = digits[0..2].parse().ok()?;
            let om: i64 = digits[2..4].parse().ok()?;
            sign * (oh * 3600 + om * 60)
        }
        _ => return None,
    };
    to_epoch(y, mo, d, h, mi, se).map(|t| t - offset)
}

fn parse_rfc1123(s: &str) -> Option<i64> {
    // "Sat, 05 Jun 2016 15:10:09 GMT" (the weekday is optional).
    let s = s.split_once(", ").map(|(_, r)| r).unwrap_or(s);
    let parts: Vec<&str> = s.split_whitespace().collect();
    if parts.len() < 4 {
        return None;
    }
    let d: i64 = parts[0].parse().ok()?;
    const MONTHS: [&str; 12] = [
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ];
    let mon = parts[1].to_ascii_lowercase();
    let mo = MONTHS.iter().position(|m| mon.starts_with(m))? as i64 + 1;
    let y: i64 = parts[2].parse().ok()?;
    let hms: Vec<i64> = parts[3].split(':').filter_map(|x| x.parse().ok()).collect();
    if hms.len() != 3 {
        return None;
    }
    if let Some(zone) = parts.get(4) {
        if !matches!(*zone, "GMT" | "UTC" | "Z" | "+0000") {
            return None;
        }
    }
    to_epoch(y, mo, d, hms[0], hms[1], hms[2])
}

fn to_epoch(y: i64, mo: i64, d: i64, h: i64, mi: i64, s: i64) -> Option<i64> {
    if !(1..=12).contains(&mo)
        || !(1..=31).contains(&d)
        || h > 23
        || mi > 59
        || s > 60
        || !(1970..=9999).contains(&y)
    {
        return None;
    }
    Some(days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + s)
}

/// Days since 1970-01-01 (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// RFC 3339 UTC for seconds since the epoch.
pub fn format_epoch(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + if m <= 2 { 1 } else { 0 };
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::normalize;

    #[test]
    fn real_formats() {
        assert_eq!(
            normalize("2024-05-01T12:00:00Z").as_deref(),
            Some("2024-05-01T12:00:00Z")
        );
        assert_eq!(
            normalize("2024-05-01T12:00:00.123Z").as_deref(),
            Some("2024-05-01T12:00:00Z")
        );
        assert_eq!(
            normalize("2024-05-01T14:00:00+02:00").as_deref(),
            Some("2024-05-01T12:00:00Z")
        );
        assert_eq!(
            normalize("Sat, 05 Jun 2016 15:10:09 GMT").as_deref(),
            Some("2016-06-05T15:10:09Z")
        );
        assert_eq!(
            normalize("1464707409").as_deref(),
            Some("2016-05-31T15:10:09Z")
        );
        assert_eq!(
            normalize("1464707409000").as_deref(),
            Some("2016-05-31T15:10:09Z")
        );
        assert_eq!(
            normalize("2024-02-29T00:00:00Z").as_deref(),
            Some("2024-02-29T00:00:00Z")
        );
        assert_eq!(normalize("yesterday"), None);
        assert_eq!(normalize("2024-13-01T00:00:00Z"), None);
        assert_eq!(normalize("9999-99-99T99:99:99Z"), None);
    }
}
