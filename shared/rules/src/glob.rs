//! ARN glob patterns for exempt principals: `*` matches any run of characters (including
//! `/` and `:`, so `arn:aws:iam::*:role/BreakGlass*` works across accounts and paths) and
//! `?` matches one character. Everything else is literal.

/// Whether `text` matches `pattern`. Iterative with backtracking over the last `*`, so it is
/// linear in practice and cannot overflow the stack on hostile input.
pub fn matches(pattern: &str, text: &str) -> bool {
    glob(pattern, text, true)
}

/// Whether the principal `arn` matches the policy pattern `pattern` (`exempt_principals`,
/// `iam_admins`, `tag_admins`). A session's ARN
/// (`arn:aws:sts::A:assumed-role/ROLE/SESSION`) is matched field by field: only an
/// `assumed-role/` pattern can match it, its role part against ROLE and its session part
/// against SESSION, so no `*` reaches from the role into the session name, which the
/// caller chooses (`arn:aws:sts::*:assumed-role/attacker/BreakGlassAdmin` is not a
/// break-glass session). Roles are meant to be named by their role ARN, which callers pass
/// alongside (the session issuer's). Any other ARN is matched as a whole.
pub fn principal_matches(pattern: &str, arn: &str) -> bool {
    let Some((arn_fields, role, session)) = session_parts(arn) else {
        return matches(pattern, arn);
    };
    let Some((p_fields, p_role, p_session)) = session_parts(pattern) else {
        return false;
    };
    p_fields
        .iter()
        .zip(arn_fields.iter())
        .all(|(p, a)| matches(p, a))
        && matches(p_role, role)
        // A pattern naming only the role (`assumed-role/deployer`) covers its sessions.
        && matches(p_session.unwrap_or("*"), session.unwrap_or_default())
}

/// `arn:PARTITION:SERVICE:REGION:ACCOUNT:assumed-role/ROLE[/SESSION]`: the four fields
/// before the resource, the role, the session.
fn session_parts(arn: &str) -> Option<([&str; 4], &str, Option<&str>)> {
    let rest = arn.strip_prefix("arn:")?;
    let mut f = rest.splitn(5, ':');
    let fields = [f.next()?, f.next()?, f.next()?, f.next()?];
    let resource = f.next()?.strip_prefix("assumed-role/")?;
    let (role, session) = match resource.split_once('/') {
        Some((r, s)) => (r, Some(s)),
        None => (resource, None),
    };
    Some((fields, role, session))
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
    use super::{matches, matches_star_only, principal_matches};

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

    #[test]
    fn sessions_are_matched_by_their_role_never_by_the_session_name() {
        let session = "arn:aws:sts::123456789012:assumed-role/attacker/BreakGlassAdmin";
        for p in [
            "arn:aws:sts::*:assumed-role/*BreakGlass*",
            "arn:aws:sts::*:assumed-role/*BreakGlassAdmin",
            "arn:aws:*::*:*role/*BreakGlass*",
            "arn:aws:iam::*:role/BreakGlassAdmin",
            "arn:aws:sts::*:assumed-role/BreakGlass*",
            "*BreakGlassAdmin",
        ] {
            assert!(!principal_matches(p, session), "{p} matched {session}");
        }
        let real = "arn:aws:sts::123456789012:assumed-role/BreakGlassAdmin/alice";
        for p in [
            "arn:aws:sts::*:assumed-role/BreakGlass*",
            "arn:aws:sts::*:assumed-role/BreakGlassAdmin/*",
            "arn:aws:sts::123456789012:assumed-role/BreakGlassAdmin/alice",
            "arn:aws:sts::*:assumed-role/BreakGlassAdmin/ali?e",
        ] {
            assert!(principal_matches(p, real), "{p} did not match {real}");
        }
        // The session part of a pattern still restricts (never widens) the role's match.
        assert!(!principal_matches(
            "arn:aws:sts::*:assumed-role/BreakGlassAdmin/bob",
            real
        ));
        // Role and user ARNs (a session's issuer) are matched whole, as before.
        assert!(principal_matches(
            "arn:aws:iam::*:role/BreakGlass*",
            "arn:aws:iam::123456789012:role/BreakGlassAdmin"
        ));
        assert!(principal_matches(
            "arn:aws:iam::*:user/breakglass-*",
            "arn:aws:iam::123456789012:user/breakglass-ops"
        ));
        assert!(!principal_matches(
            "arn:aws:sts::*:assumed-role/x/*",
            "not an arn"
        ));
    }
}
