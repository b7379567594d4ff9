//! How the JVM prints things that operators' tools read back: `Double.toString`, `InetSocketAddress.toString`,
//! `Date.toString`, and the iteration order of `java.util.HashMap` and `HashSet`, which decides the order of
//! sessions, paths and watches in `dump`, `wchc`, `wchp` and their AdminServer twins. Reproducing that order
//! lets a dump from ferrokeeper be compared line by line with one from Apache ZooKeeper.

use std::net::SocketAddr;

/// Java's `Double.toString`: the shortest digits that read back to the value, in plain notation with at least
/// one decimal (`10.0`, `9.5`) from 10^-3 up to 10^7, and as `<digit>.<digits>E<exponent>` outside it (`1.0E7`,
/// `5.0E-4`); `NaN`, `Infinity`, `-Infinity`.
pub fn double(value: f64) -> String {
    if value.is_nan() {
        return "NaN".to_owned();
    }
    if value.is_infinite() {
        return if value > 0.0 { "Infinity" } else { "-Infinity" }.to_owned();
    }
    if value == 0.0 {
        return if value.is_sign_negative() { "-0.0" } else { "0.0" }.to_owned();
    }
    if (1e-3..1e7).contains(&value.abs()) {
        let plain = format!("{value}");
        return if plain.contains('.') {
            plain
        } else {
            format!("{plain}.0")
        };
    }
    let scientific = format!("{value:e}");
    let (mantissa, exponent) = scientific.split_once('e').unwrap_or((scientific.as_str(), "0"));
    if mantissa.contains('.') {
        format!("{mantissa}E{exponent}")
    } else {
        format!("{mantissa}.0E{exponent}")
    }
}

/// `InetSocketAddress.toString` of a resolved address: `/ip:port`, IPv6 in Java's uncompressed form.
pub fn socket_address(addr: &SocketAddr) -> String {
    format!("/{}", host_port(addr))
}

/// `ip:port` as Jackson writes an `InetSocketAddress` (no leading slash), IPv6 uncompressed.
pub fn host_port(addr: &SocketAddr) -> String {
    match addr {
        SocketAddr::V4(a) => format!("{}:{}", a.ip(), a.port()),
        SocketAddr::V6(a) => {
            let segments: Vec<String> = a.ip().segments().iter().map(|s| format!("{s:x}")).collect();
            format!("{}:{}", segments.join(":"), a.port())
        }
    }
}

/// `java.util.Date.toString` in UTC: `Thu Nov 26 08:36:46 UTC 2026`.
pub fn date(epoch_ms: i64) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let secs = epoch_ms.div_euclid(1000);
    let days = secs.div_euclid(86_400);
    let in_day = secs.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    format!(
        "{} {} {:02} {:02}:{:02}:{:02} UTC {}",
        DAYS[days.rem_euclid(7) as usize],
        MONTHS[(month - 1) as usize],
        day,
        in_day / 3600,
        in_day % 3600 / 60,
        in_day % 60,
        year
    )
}

/// Year, month (1-12) and day of a count of days since 1970-01-01 (the proleptic Gregorian calendar).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// `String.hashCode`.
pub use jute::string_hash_code as string_hash;

/// `Long.hashCode`: the two halves xor-ed.
pub fn long_hash(v: i64) -> i32 {
    (v ^ ((v as u64) >> 32) as i64) as i32
}

/// Orders `items` as a `java.util.HashMap` (or `HashSet`) filled with them in the given order iterates them:
/// by bucket of the spread hash in a table of default capacity grown at load factor 0.75, entries of one
/// bucket in insertion order.
pub fn hash_order<T>(mut items: Vec<T>, hash: impl Fn(&T) -> i32) -> Vec<T> {
    let mut capacity = 16usize;
    while items.len() > capacity / 4 * 3 {
        capacity *= 2;
    }
    let mask = capacity - 1;
    items.sort_by_key(|item| {
        let h = hash(item);
        ((h ^ ((h as u32) >> 16) as i32) as u32 as usize) & mask
    });
    items
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_as_the_jvm_does() {
        assert_eq!(double(0.0), "0.0");
        assert_eq!(double(1e7), "1.0E7");
        assert_eq!(double(12_345_678.0), "1.2345678E7");
        assert_eq!(double(0.0005), "5.0E-4");
        assert_eq!(double(-2.5e-7), "-2.5E-7");
        assert_eq!(double(9_999_999.0), "9999999.0");
        assert_eq!(double(0.001), "0.001");
        assert_eq!(double(f64::NAN), "NaN");
        assert_eq!(double(f64::INFINITY), "Infinity");
        assert_eq!(double(10.0), "10.0");
        assert_eq!(double(3.3333), "3.3333");
        let v6: SocketAddr = "[::1]:2181".parse().expect("addr");
        assert_eq!(socket_address(&v6), "/0:0:0:0:0:0:0:1:2181");
        let v4: SocketAddr = "127.0.0.1:38122".parse().expect("addr");
        assert_eq!(host_port(&v4), "127.0.0.1:38122");
    }

    #[test]
    fn dates_read_like_java_util_date_in_utc() {
        assert_eq!(date(0), "Thu Jan 01 00:00:00 UTC 1970");
        // Printed by a real 3.8.0 server's `dump`.
        assert_eq!(date(1_795_682_206_000), "Thu Nov 26 08:36:46 UTC 2026");
        assert_eq!(date(951_782_400_000), "Tue Feb 29 00:00:00 UTC 2000");
    }

    #[test]
    fn hashes_match_java() {
        assert_eq!(string_hash(""), 0);
        assert_eq!(string_hash("/app/x"), 1_438_597_435);
        assert_eq!(long_hash(0x0100_0034_91ef_0000), 0x90ef_0034_u32 as i32);
        assert_eq!(long_hash(-1), 0);
    }

    /// A real 3.8.0 server listed session 0x100003491ef0001 before 0x100003491ef0000, and /app/x before /nope.
    #[test]
    fn hash_order_matches_what_zookeeper_printed() {
        let ids = hash_order(vec![0x0100_0034_91ef_0000i64, 0x0100_0034_91ef_0001], |v| {
            long_hash(*v)
        });
        assert_eq!(ids, vec![0x0100_0034_91ef_0001, 0x0100_0034_91ef_0000]);
        let paths = hash_order(vec!["/nope", "/app/x"], |p| string_hash(p));
        assert_eq!(paths, vec!["/app/x", "/nope"]);
    }
}
