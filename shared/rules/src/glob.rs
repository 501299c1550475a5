//! ARN glob patterns for exempt principals: `*` matches any run of characters (including
//! `/` and `:`, so `arn:aws:iam::*:role/BreakGlass*` works across accounts and paths) and
//! `?` matches one character. Everything else is literal.

/// Whether `text` matches `pattern`. Iterative with backtracking over the last `*`, so it is
/// linear in practice and cannot overflow the stack on hostile input.
pub fn matches(pattern: &str, text: &str) -> bool {
    glob(pattern, text, true)
}

/// EventBridge's `wildcard`: only `*` is special.
pub fn matches_star_only(pattern: &str, text: &str) -> bool {
    glob(pattern, text, false)
}

fn glob(pattern: &str, text: &str, question_mark: bool) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if pi < p.len() && ((question_mark && p[pi] == '?') || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == '*' {
        pi += 1;
    }
    pi == p.len()
}

#[cfg(test)]
mod tests {
    use super::{matches, matches_star_only};

    #[test]
    fn globs() {
        assert!(matches(
            "arn:aws:iam::*:role/BreakGlass*",
            "arn:aws:iam::123456789012:role/BreakGlassAdmin"
        ));
        assert!(!matches(
            "arn:aws:iam::*:role/BreakGlass*",
            "arn:aws:iam::123456789012:role/Dev"
        ));
        assert!(matches("*", ""));
        assert!(matches("a?c", "abc"));
        assert!(!matches("a?c", "ac"));
        assert!(matches("*:user/alice", "arn:aws:iam::1:user/alice"));
        assert!(!matches(
            "arn:aws:iam::1:user/alice",
            "arn:aws:iam::1:user/alice2"
        ));
        assert!(matches("a*", "a*b"));
        assert!(matches_star_only("a?c", "a?c"));
        assert!(!matches_star_only("a?c", "abc"));
    }
}
