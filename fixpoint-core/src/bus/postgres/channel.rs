//! From a topic to a PostgreSQL channel name: the same on every host, never truncated, and
//! quoted so that no topic can change the statement it is written into.

use std::borrow::Cow;

use sha2::{Digest, Sha256};

/// The longest channel name the server keeps whole (`NAMEDATALEN - 1` bytes). A longer
/// identifier in `LISTEN` is silently truncated, while `pg_notify` refuses a longer name: the
/// two would never meet.
pub const CHANNEL_MAX_BYTES: usize = 63;

/// Where every hashed channel name starts. A topic that itself starts with it is hashed too,
/// so that no topic can be mistaken for the hash of another.
pub const HASHED_CHANNEL_PREFIX: &str = "fixpoint#";

/// The channel `topic` is sent on.
///
/// A topic of 1 to [`CHANNEL_MAX_BYTES`] bytes, with no NUL and not starting with
/// [`HASHED_CHANNEL_PREFIX`], is its own channel name, case and punctuation included. Any
/// other topic (a longer one, an empty one) is named by its SHA-256: the prefix followed by
/// the first 54 hexadecimal digits of the digest (216 bits), so distinct topics meet on one
/// channel only if SHA-256 collides. The mapping depends on the topic alone: every process
/// and host computes the same name.
///
/// ```
/// use fixpoint::bus::channel_name;
///
/// assert_eq!(channel_name("answers/42"), "answers/42");
/// let long = "q".repeat(100);
/// let hashed = channel_name(&long);
/// assert!(hashed.starts_with("fixpoint#"));
/// assert_eq!(hashed.len(), 63);
/// ```
#[must_use]
pub fn channel_name(topic: &str) -> Cow<'_, str> {
    let fits = !topic.is_empty() && topic.len() <= CHANNEL_MAX_BYTES && !topic.contains('\0');
    if fits && !topic.starts_with(HASHED_CHANNEL_PREFIX) {
        return Cow::Borrowed(topic);
    }
    let digest = Sha256::digest(topic.as_bytes());
    let mut name = String::with_capacity(CHANNEL_MAX_BYTES);
    name.push_str(HASHED_CHANNEL_PREFIX);
    let digits = (CHANNEL_MAX_BYTES - HASHED_CHANNEL_PREFIX.len()) / 2;
    for byte in &digest[..digits] {
        name.push(char::from(HEX[usize::from(byte >> 4)]));
        name.push(char::from(HEX[usize::from(byte & 0x0f)]));
    }
    Cow::Owned(name)
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// `channel` as a quoted SQL identifier: inside double quotes, with each double quote doubled,
/// so the server reads exactly the channel name, whatever it contains.
pub(crate) fn quoted(channel: &str) -> String {
    let mut quoted = String::with_capacity(channel.len() + 2);
    quoted.push('"');
    for c in channel.chars() {
        if c == '"' {
            quoted.push('"');
        }
        quoted.push(c);
    }
    quoted.push('"');
    quoted
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_topics_are_their_own_channel() {
        assert_eq!(channel_name("a"), "a");
        assert_eq!(
            channel_name("Mixed Case; DROP TABLE x"),
            "Mixed Case; DROP TABLE x"
        );
        let longest = "é".repeat(31) + "x"; // 63 bytes
        assert_eq!(channel_name(&longest), longest);
    }

    #[test]
    fn other_topics_are_hashed_to_a_full_length_name() {
        let too_long = "x".repeat(64);
        for topic in ["", "nul\0inside", &too_long, "fixpoint#looks-hashed"] {
            let name = channel_name(topic);
            assert_eq!(name.len(), CHANNEL_MAX_BYTES, "{topic:?}");
            assert!(name.starts_with(HASHED_CHANNEL_PREFIX));
            assert_ne!(name, topic);
        }
        assert_ne!(channel_name(&too_long), channel_name(&"x".repeat(65)));
        // Stable across processes, hosts and releases: the digest of "", spelled out.
        assert_eq!(
            channel_name(""),
            "fixpoint#e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca49599"
        );
    }

    #[test]
    fn quoting_doubles_quotes() {
        assert_eq!(quoted(r#"a"b"#), r#""a""b""#);
        assert_eq!(quoted("plain"), r#""plain""#);
    }
}
