//! Path helpers and ZooKeeper's path validation (`PathUtils.validatePath`).

/// Splits `/a/b` into (`/a`, `b`) and `/a` into (`/`, `a`).
pub fn split(path: &str) -> (&str, &str) {
    match path.rfind('/') {
        Some(0) => ("/", &path[1..]),
        Some(i) => (&path[..i], &path[i + 1..]),
        None => ("", path),
    }
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

/// Validates a full path exactly as `PathUtils.validatePath` does.
pub fn is_valid(path: &str) -> bool {
    if path.is_empty() || !path.starts_with('/') {
        return false;
    }
    if path == "/" {
        return true;
    }
    if path.ends_with('/') {
        return false;
    }
    path[1..]
        .split('/')
        .all(|seg| !seg.is_empty() && seg != "." && seg != ".." && !seg.chars().any(forbidden))
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
        ] {
            assert!(!is_valid(bad), "{bad:?} should be invalid");
        }
    }
}
