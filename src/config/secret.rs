//! [`Secret`]: a leaf, so any resolved file can hold a credential without importing another
//! concern. Imports nothing from `config`.

use std::fmt;

/// A value that must never reach a log line or a dump.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(pub String);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("\"<redacted>\"")
    }
}
