//! Path helpers and ZooKeeper's path validation (`PathUtils.validatePath`).

/// Splits `/a/b` into (`/a`, `b`) and `/a` into (`/`, `a`).
pub fn split(path: &str) -> (&str, &str) {
    match last_slash(path) {
        Some(0) => ("/", &path[1..]),
        Some(i) => (&path[..i], &path[i + 1..]),
        None => ("", path),
    }
}

/// Where the last `/` is. A byte search: `/` never occurs inside a multi-byte character, and every path of
/// every write is split at least once.
fn last_slash(path: &str) -> Option<usize> {
    path.as_bytes().iter().rposition(|&b| b == b'/')
}

/// The parent of a path (`/` for top-level nodes).
pub fn parent(path: &str) -> &str {
    split(path).0
}

/// Joins a parent path and a child name.
pub fn join(parent: &str, child: &str) -> String {
    let mut p = String::with_capacity(parent.len() + child.len() + 1);
    p.push_str(parent);
    if !parent.ends_with('/') {
        p.push('/');
    }
    p.push_str(child);
    p
}

/// True for the characters `PathUtils` refuses. (Surrogates, U+D800 to U+DFFF, cannot occur in a Rust string:
/// undecodable input has already become U+FFFD, which is refused too.)
fn forbidden(c: char) -> bool {
    matches!(c, '\u{0}'..='\u{1f}' | '\u{7f}'..='\u{9f}' | '\u{e000}'..='\u{f8ff}' | '\u{fff0}'..='\u{ffff}')
}

/// Validates a full path exactly as `PathUtils.validatePath` does: absolute, no empty, `.` or `..` segment
/// (so no trailing or doubled `/`), no refused character. Every write validates its path and nearly all paths
/// are ASCII, so one pass over the bytes checks segments and ASCII characters; only a path with other
/// characters is decoded.
pub fn is_valid(path: &str) -> bool {
    let Some(rest) = path.strip_prefix('/') else {
        return false;
    };
    if rest.is_empty() {
        return true;
    }
    let bytes = rest.as_bytes();
    let mut start = 0;
    let mut ascii = true;
    for (i, &b) in bytes.iter().enumerate() {
        if b == b'/' {
            if !valid_segment(&bytes[start..i]) {
                return false;
            }
            start = i + 1;
        } else if b < 0x20 || b == 0x7f {
            return false;
        }
        ascii &= b.is_ascii();
    }
    valid_segment(&bytes[start..]) && (ascii || !rest.chars().any(forbidden))
}

fn valid_segment(segment: &[u8]) -> bool {
    !matches!(segment, b"" | b"." | b"..")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_and_join_are_inverse() {
        assert_eq!(split("/a"), ("/", "a"));
        assert_eq!(split("/a/b/c"), ("/a/b", "c"));
        assert_eq!(join("/", "a"), "/a");
        assert_eq!(join("/a", "b"), "/a/b");
        assert_eq!(parent("/a/b"), "/a");
    }

    #[test]
    fn validation_follows_path_utils() {
        for ok in ["/", "/a", "/a/b", "/a.b", "/...", "/a b", "/\u{e9}"] {
            assert!(is_valid(ok), "{ok:?} should be valid");
        }
        for bad in [
            "",
            "a",
            "/a/",
            "//",
            "/a//b",
            "/.",
            "/a/..",
            "/a\u{0}",
            "/\u{1}",
            "/\u{7f}",
            "/\u{fff5}",
            "/\u{e000}",
            "/a\u{85}b",
            "/a/\u{e9}\u{1f}",
        ] {
            assert!(!is_valid(bad), "{bad:?} should be invalid");
        }
    }
}
