//! Reading secret values and passphrases: standard input or a hidden prompt, never arguments.

use std::io::{IsTerminal, Read};

use keywarden_core::{SecretValue, Timestamp};
use zeroize::Zeroizing;

use crate::Failure;

/// Reads a secret value: from standard input when it is not a terminal, otherwise
/// from a hidden prompt (asked twice).
pub fn secret_value(name: &str) -> Result<SecretValue, Failure> {
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        let mut buf = Zeroizing::new(Vec::new());
        stdin
            .lock()
            .take(keywarden_core::SecretValue::MAX_BYTES as u64 + 2)
            .read_to_end(&mut buf)?;
        return SecretValue::from_input(buf.to_vec())
            .map_err(|e| Failure::usage(format!("cannot use the value from standard input: {e}")));
    }
    let first = Zeroizing::new(rpassword::prompt_password(format!("Value for {name}: "))?);
    let again = Zeroizing::new(rpassword::prompt_password("Repeat the value: ")?);
    if first != again {
        return Err(Failure::usage("the two values differ; nothing was stored"));
    }
    SecretValue::new(first.to_string())
        .map_err(|e| Failure::usage(format!("cannot use that value: {e}")))
}

/// Reads the vault file's passphrase from `$KEYWARDEN_PASSPHRASE_FILE` or a prompt.
pub fn passphrase(confirm: bool) -> Result<SecretValue, Failure> {
    if let Some(path) = std::env::var_os("KEYWARDEN_PASSPHRASE_FILE").filter(|p| !p.is_empty()) {
        let bytes = Zeroizing::new(std::fs::read(&path).map_err(|e| {
            Failure::usage(format!(
                "cannot read KEYWARDEN_PASSPHRASE_FILE ({}): {e}",
                std::path::Path::new(&path).display()
            ))
        })?);
        return SecretValue::from_input(bytes.to_vec())
            .map_err(|e| Failure::usage(format!("cannot use the passphrase file: {e}")));
    }
    if !std::io::stdin().is_terminal() {
        return Err(Failure::usage(
            "the vault file needs its passphrase: run kw in a terminal, or set KEYWARDEN_PASSPHRASE_FILE",
        ));
    }
    let first = Zeroizing::new(rpassword::prompt_password("Vault passphrase: ")?);
    if confirm {
        let again = Zeroizing::new(rpassword::prompt_password("Repeat the passphrase: ")?);
        if first != again {
            return Err(Failure::usage("the two passphrases differ"));
        }
    }
    SecretValue::new(first.to_string())
        .map_err(|e| Failure::usage(format!("cannot use that passphrase: {e}")))
}

/// Parses `2027-03-31` (end of that day, UTC) or a duration from now: `90d`, `12w`, `48h`.
pub fn expiry(text: &str, now: Timestamp) -> Result<Timestamp, Failure> {
    let text = text.trim();
    let bad = || {
        Failure::usage(format!(
            "--expires {text:?}: expected a date like 2027-03-31 or a duration like 90d, 12w, 48h"
        ))
    };
    if let Some(unit) = text.chars().last().filter(|c| c.is_ascii_alphabetic()) {
        let n: i64 = text[..text.len() - 1].parse().map_err(|_| bad())?;
        let secs = match unit {
            'h' => 3600,
            'd' => 86_400,
            'w' => 7 * 86_400,
            _ => return Err(bad()),
        };
        if !(1..=36_500).contains(&n) {
            return Err(bad());
        }
        return Ok(now + n * secs);
    }
    let parts: Vec<&str> = text.split('-').collect();
    let [y, m, d] = parts.as_slice() else {
        return Err(bad());
    };
    let (y, m, d): (i64, i64, i64) = (
        y.parse().map_err(|_| bad())?,
        m.parse().map_err(|_| bad())?,
        d.parse().map_err(|_| bad())?,
    );
    if !(1970..=9999).contains(&y)
        || !(1..=12).contains(&m)
        || !(1..=days_in_month(y, m)).contains(&d)
    {
        return Err(bad());
    }
    Ok(days_from_civil(y, m, d) * 86_400 + 86_399)
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
pub fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// `2026-11-22` for a timestamp.
pub fn date(ts: Timestamp) -> String {
    let z = ts.div_euclid(86_400) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_expiry() {
        assert_eq!(expiry("90d", 1000).ok(), Some(1000 + 90 * 86_400));
        assert_eq!(expiry("2w", 0).ok(), Some(14 * 86_400));
        assert_eq!(expiry("1970-01-01", 0).ok(), Some(86_399));
        assert_eq!(date(expiry("2027-03-31", 0).unwrap_or(0)), "2027-03-31");
        assert_eq!(date(expiry("2024-02-29", 0).unwrap_or(0)), "2024-02-29");
        for bad in [
            "",
            "soon",
            "0d",
            "5y",
            "2023-02-29",
            "2027-13-01",
            "-1d",
            "12",
        ] {
            assert!(expiry(bad, 0).is_err(), "{bad}");
        }
    }
}
