//! Shell words for the commands a report prints (how to undo an action): a value that came
//! from an event is quoted so that pasting the command runs exactly that command.

/// `s` as one POSIX shell word: as it is when it holds only characters no shell treats
/// specially, else in single quotes (a quote inside closed, escaped and reopened).
pub fn quote(s: &str) -> String {
    let plain = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-./:=,@+%".contains(c));
    if plain {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// Whether a command has a word the AWS CLI would load from somewhere instead of sending:
/// a parameter value starting with `file://`, `fileb://`, `http://` or `https://`.
///
/// An SQS queue URL (`--queue-url https://...`) is sent as written: the CLI never loads a
/// queue URL (version 1 lists every `sqs.*.queue-url` among the parameters it does not
/// fetch; version 2 fetches no URL), and a file:// one is still refused.
pub fn loads_from_elsewhere(command: &str) -> bool {
    const PREFIXES: [&str; 4] = ["file://", "fileb://", "http://", "https://"];
    let words: Vec<&str> = command.split(' ').collect();
    words.iter().enumerate().any(|(i, w)| {
        let w = w.trim_start_matches('\'').to_ascii_lowercase();
        let queue_url = i > 0 && words[i - 1] == "--queue-url" && w.starts_with("https://");
        !queue_url && PREFIXES.iter().any(|p| w.starts_with(p))
    })
}

/// Several words, each quoted, joined by spaces.
pub fn words<'a>(items: impl IntoIterator<Item = &'a String>) -> String {
    items
        .into_iter()
        .map(|s| quote(s))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::quote;

    #[test]
    fn values_from_events_stay_one_word() {
        assert_eq!(quote("sg-0123"), "sg-0123");
        assert_eq!(quote("a b"), "'a b'");
        assert_eq!(quote("x'; rm -rf / #"), r"'x'\''; rm -rf / #'");
        assert_eq!(quote("$(id)"), "'$(id)'");
        assert_eq!(quote(""), "''");
    }
}
