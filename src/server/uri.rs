//! `file://` URIs as clients send them (`rootUri`, `workspaceFolders`), to paths.

use std::path::PathBuf;

/// The path of a `file://` URI, percent-decoded; None for any other scheme.
pub fn file_path(uri: &str) -> Option<PathBuf> {
    uri.strip_prefix("file://")
        .map(|path| PathBuf::from(percent_decode(path)))
}

/// Decodes `%XX` escapes on bytes (a `%` before a multi-byte character must not split it);
/// a `%` not followed by two hex digits stays as it is.
pub fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let (Some(hi), Some(lo)) = (
                bytes.get(i + 1).and_then(|b| hex(*b)),
                bytes.get(i + 2).and_then(|b| hex(*b)),
            )
        {
            out.push(hi << 4 | lo);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_decoding_keeps_bad_escapes_and_never_splits_a_character() {
        assert_eq!(percent_decode("/home/u/my%20project"), "/home/u/my project");
        assert_eq!(percent_decode("/a/%C3%A9t%C3%A9"), "/a/été");
        // A `%` before a multi-byte character, or at the end, is kept as it is.
        assert_eq!(percent_decode("/a/50%€"), "/a/50%€");
        assert_eq!(percent_decode("/a/%1é"), "/a/%1é");
        assert_eq!(percent_decode("/a/100%"), "/a/100%");
        assert_eq!(percent_decode("/a/%zz"), "/a/%zz");
    }

    #[test]
    fn only_file_uris_have_a_path() {
        assert_eq!(
            file_path("file:///w/my%20folder"),
            Some(PathBuf::from("/w/my folder"))
        );
        assert_eq!(file_path("untitled:x"), None);
    }
}
