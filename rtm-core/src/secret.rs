//! The only place secrets live: a token whose `Debug` and `Display` never show it.

use std::fmt;

/// A Slack token. Its `Debug` output is redacted, and it is not `Display` or `Serialize`,
/// so it cannot leak into logs or errors by accident.
#[derive(Clone, PartialEq, Eq)]
pub struct Token(Box<str>);

impl Token {
    /// Wraps a token string.
    pub fn new(token: impl Into<String>) -> Self {
        Token(token.into().into_boxed_str())
    }

    /// The token itself, for the `Authorization` header.
    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Show the kind of token (xoxb, xoxp, ...), which helps debugging, never the rest.
        let kind = self
            .0
            .split('-')
            .next()
            .filter(|k| k.len() <= 5 && k.starts_with("xox"));
        match kind {
            Some(kind) => write!(f, "Token({kind}-<redacted>)"),
            None => f.write_str("Token(<redacted>)"),
        }
    }
}

impl From<String> for Token {
    fn from(s: String) -> Self {
        Token::new(s)
    }
}

impl From<&str> for Token {
    fn from(s: &str) -> Self {
        Token::new(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_is_redacted() {
        let t = Token::new("xoxb-123-456-secretsecret");
        let s = format!("{t:?}");
        assert_eq!(s, "Token(xoxb-<redacted>)");
        assert!(!s.contains("secret"));
        assert_eq!(format!("{:?}", Token::new("plain")), "Token(<redacted>)");
    }
}
