//! Kubernetes quantities (pure): the value of one (`parse_quantity`, for placement) and the
//! canonical form the API server stores in a `resource.Quantity` field (`canonical`, for the
//! plan), following apimachinery's `ParseQuantity` and `CanonicalizeBytes`.

/// Parses a Kubernetes quantity into its value (`500m` -> 0.5, `1Gi` -> 1073741824).
pub fn parse_quantity(s: &str) -> Option<f64> {
    let s = s.trim();
    let split = s.find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '+' || c == '-')).unwrap_or(s.len());
    let (num, suffix) = s.split_at(split);
    if num.is_empty() {
        return None;
    }
    let n: f64 = num.parse().ok()?;
    let mult = match suffix {
        "" => 1.0,
        "m" => 1e-3,
        "k" => 1e3,
        "M" => 1e6,
        "G" => 1e9,
        "T" => 1e12,
        "P" => 1e15,
        "Ki" => 1024.0,
        "Mi" => 1024f64.powi(2),
        "Gi" => 1024f64.powi(3),
        "Ti" => 1024f64.powi(4),
        "Pi" => 1024f64.powi(5),
        _ => return None,
    };
    Some(n * mult)
}

/// How the server writes a quantity back: chosen by the suffix it was written with.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Format {
    BinarySi,
    DecimalSi,
    DecimalExponent,
}

const DECIMAL_SUFFIXES: [(&str, i32); 9] =
    [("n", -9), ("u", -6), ("m", -3), ("k", 3), ("M", 6), ("G", 9), ("T", 12), ("P", 15), ("E", 18)];
const BINARY_SUFFIXES: [&str; 7] = ["", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"];
/// Significant digits kept exactly (a `u128` holds 38).
const MAX_DIGITS: usize = 38;

/// An exact quantity: `(-1)^negative * mantissa * 10^exp10`, written with `format`.
struct Exact {
    negative: bool,
    mantissa: u128,
    exp10: i32,
    format: Format,
}

fn suffix_of(s: &str) -> Option<(i32, u32, Format)> {
    if s.is_empty() {
        return Some((0, 0, Format::DecimalSi));
    }
    if let Some((_, e)) = DECIMAL_SUFFIXES.iter().find(|(x, _)| *x == s) {
        return Some((*e, 0, Format::DecimalSi));
    }
    if let Some(i) = BINARY_SUFFIXES.iter().skip(1).position(|x| *x == s) {
        return Some((0, 10 * (i as u32 + 1), Format::BinarySi));
    }
    let exp = s.strip_prefix(['e', 'E'])?;
    let digits = exp.strip_prefix(['+', '-']).unwrap_or(exp);
    if digits.is_empty() || digits.len() > 6 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((exp.parse().ok()?, 0, Format::DecimalExponent))
}

/// Reads a quantity exactly, rounded up (away from zero) to the nano as the server does.
/// `None` for what is not a quantity or does not fit [`MAX_DIGITS`].
fn exact(s: &str) -> Option<Exact> {
    let (negative, rest) = match s.as_bytes().first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    let num_end = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(rest.len());
    let (num, suffix) = rest.split_at(num_end);
    let (int, frac) = num.split_once('.').unwrap_or((num, ""));
    if int.len() + frac.len() == 0 || frac.contains('.') {
        return None;
    }
    let (exp_suffix, exp2, format) = suffix_of(suffix)?;
    let mut digits = format!("{int}{frac}");
    let mut exp10 = exp_suffix.checked_sub(i32::try_from(frac.len()).ok()?)?;
    let kept = digits.trim_end_matches('0').len();
    exp10 = exp10.checked_add(i32::try_from(digits.len() - kept).ok()?)?;
    digits.truncate(kept);
    let digits = digits.trim_start_matches('0');
    if digits.is_empty() {
        return Some(Exact { negative: false, mantissa: 0, exp10: 0, format });
    }
    if digits.len() > MAX_DIGITS {
        return None;
    }
    let mut mantissa: u128 = digits.parse().ok()?;
    mantissa = mantissa.checked_mul(1u128.checked_shl(exp2)?)?;
    if exp10 < -9 {
        let shift = u32::try_from(-9 - i64::from(exp10)).ok()?;
        mantissa = match 10u128.checked_pow(shift) {
            Some(p) => mantissa.div_ceil(p),
            None => 1,
        };
        exp10 = -9;
    }
    while mantissa.is_multiple_of(10) {
        mantissa /= 10;
        exp10 += 1;
    }
    Some(Exact { negative, mantissa, exp10, format })
}

/// The string the API server stores for the quantity `s`: `1.10` -> `1100m`, `1000` -> `1k`,
/// `0.50` -> `500m`, `1024Mi` -> `1Gi`; a string already in a canonical shape
/// stays as written (`1E3`, `1Gi`). `None` when `s` is
/// not a quantity or lies beyond what is modelled exactly (below a milli, more than 38
/// significant digits, past the `E` / `Ei` suffixes): such values compare as written.
pub fn canonical(s: &str) -> Option<String> {
    let s = s.trim();
    let q = exact(s)?;
    // Below a milli, fields differ (a ResourceQuota keeps `1m` for `0.1m`): not modelled.
    if q.mantissa != 0 && q.exp10 < -3 {
        return None;
    }
    if kept_as_written(s) {
        return Some(s.to_string());
    }
    if q.mantissa == 0 {
        return Some("0".into());
    }
    let sign = if q.negative { "-" } else { "" };
    if q.format == Format::BinarySi && q.exp10 >= 0 {
        let mut n = q.mantissa.checked_mul(10u128.checked_pow(q.exp10.unsigned_abs())?)?;
        if n >= 1024 {
            let mut e = 0;
            while n % 1024 == 0 {
                n /= 1024;
                e += 1;
            }
            return Some(format!("{sign}{n}{}", BINARY_SUFFIXES.get(e)?));
        }
    }
    let e3 = q.exp10.div_euclid(3) * 3;
    let n = q.mantissa.checked_mul(10u128.pow((q.exp10 - e3).unsigned_abs()))?;
    let suffix = match (q.format, e3) {
        (_, 0) => String::new(),
        (Format::DecimalExponent, e) => format!("e{e}"),
        (_, e) => DECIMAL_SUFFIXES.iter().find(|(_, x)| *x == e)?.0.to_string(),
    };
    Some(format!("{sign}{n}{suffix}"))
}

/// True when the server keeps `s` as written: `ParseQuantity`'s int64 fast path reuses the
/// string when it already looks canonical (`1E3`, `1Gi`, `100m`, `3.001P`, `+2`), and the
/// stored object is serialized from that string.
fn kept_as_written(s: &str) -> bool {
    let body = s.strip_prefix(['+', '-']).unwrap_or(s);
    let num_end = body.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(body.len());
    let (number, suffix) = body.split_at(num_end);
    let (int, frac) = number.split_once('.').unwrap_or((number, ""));
    let int = match int.trim_start_matches('0') {
        "" => "0",
        digits => digits,
    };
    let Some((exp10, exp2, format)) = suffix_of(suffix) else { return false };
    let shifted = format!("{int}{frac}");
    let digits = (int.len() + frac.len()) as i64;
    if format == Format::BinarySi {
        let precision = 15 - int.len() as i64 - i64::from(exp2) * 3 / 10 - 1;
        return frac.is_empty()
            && precision >= 0
            && exp2 % 10 == 0
            && shifted.parse::<i64>().is_ok_and(|v| v.checked_mul(1i64 << exp2).is_some() && v & 7 != 0);
    }
    let scale = i64::from(exp10) - frac.len() as i64;
    digits <= 18 && scale >= -9 && scale % 3 == 0 && !shifted.ends_with("000") && !shifted.starts_with('0')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_forms_are_the_api_servers() {
        // Pairs as kube-apiserver stores them (apimachinery quantity_test.go and a live server).
        for (written, stored) in [
            ("1.10", "1100m"),
            ("1.1", "1100m"),
            ("1000", "1k"),
            ("1k", "1k"),
            ("0.50", "500m"),
            ("0.5", "500m"),
            ("1500", "1500"),
            ("1024Mi", "1Gi"),
            ("1536Mi", "1536Mi"),
            ("1.5Gi", "1536Mi"),
            ("0.5Ki", "512"),
            ("1000Ki", "1000Ki"),
            ("1e3", "1e3"),
            ("1000e0", "1e3"),
            ("1E3", "1E3"),
            ("1Gi", "1Gi"),
            ("3.001P", "3.001P"),
            ("00012", "00012"),
            (" 1Gi ", "1Gi"),
            ("1E", "1E"),
            ("100m", "100m"),
            ("-1.5", "-1500m"),
            ("+2", "+2"),
            ("+2.0", "2"),
            ("-0", "0"),
            ("000", "0"),
            ("12.", "12."),
            (".5", "500m"),
            ("1Ei", "1Ei"),
            ("1e21", "1e21"),
        ] {
            assert_eq!(canonical(written).as_deref(), Some(stored), "{written}");
        }
    }

    #[test]
    fn non_quantities_and_unmodelled_values() {
        for s in [
            "",
            "abc",
            "1K",
            "1.2.3",
            "1e",
            "1ee3",
            "1 Gi",
            "1..",
            "-",
            "1024Ei",
            "1000E",
            "0.1m",
            "1n",
            "0.0000000001",
        ] {
            assert_eq!(canonical(s), None, "{s}");
        }
        assert_eq!(canonical(&"9".repeat(39)), None);
    }

    #[test]
    fn values() {
        assert_eq!(parse_quantity("500m"), Some(0.5));
        assert_eq!(parse_quantity("1Gi"), Some(1073741824.0));
        assert_eq!(parse_quantity("abc"), None);
    }
}
