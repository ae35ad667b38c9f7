//! One upstream as agentmux runs it: its transport, which items it serves under which names,
//! and its limits. Reads `raw` and builds the transport with `transport`; imports only leaves
//! besides.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::error::{Problem, key_line};
use super::names::valid_name;
// Their YAML spellings are the whole setting, so the raw enums serve the snapshot as is.
pub use super::raw::{ArgumentValidation, UpstreamProtocol};
use super::raw::{RawFilter, RawMcpUpstream, RawTimeouts, RawUpstream};
use super::transport::{self, TransportSpec};

/// One upstream MCP server.
#[derive(Debug, Clone)]
pub struct UpstreamSpec {
    pub name: String,
    /// Where it was declared, for messages.
    pub declared_in: PathBuf,
    /// Its entry's own name in an IDE file (`"My Server"`), before normalization.
    pub declared_as: Option<String>,
    pub transport: TransportSpec,
    pub tools: NameFilter,
    pub prompts: NameFilter,
    pub resources: NameFilter,
    /// `/readyz` waits until a required upstream has been tried.
    pub required: bool,
    pub timeouts: Timeouts,
    /// The largest single message agentmux reads from the upstream (JSON body, SSE event, stdio
    /// line); a bigger one fails that stream instead of growing agentmux's memory.
    pub max_message_bytes: usize,
    pub validate_arguments: ArgumentValidation,
}

/// Default for [`UpstreamSpec::max_message_bytes`]: far above any sane tool result, far below
/// what would hurt the process.
pub const DEFAULT_MAX_MESSAGE_BYTES: usize = 16 * 1024 * 1024;

/// Smallest `max_message_bytes` accepted: below this, ordinary handshakes and lists fail.
const MIN_MESSAGE_BYTES: usize = 4096;

impl UpstreamSpec {
    /// An upstream with every optional setting at its default. IDE entries have none of
    /// agentmux's keys, so they are read this way; a YAML entry starts from here too.
    pub(super) fn with_defaults(
        name: String,
        declared_in: &Path,
        declared_as: Option<String>,
        transport: TransportSpec,
    ) -> Self {
        Self {
            name,
            declared_in: declared_in.to_path_buf(),
            declared_as,
            transport,
            tools: NameFilter::default(),
            prompts: NameFilter::default(),
            resources: NameFilter::default(),
            required: true,
            timeouts: Timeouts::DEFAULT,
            max_message_bytes: DEFAULT_MAX_MESSAGE_BYTES,
            validate_arguments: ArgumentValidation::default(),
        }
    }
}

/// A registry entry's name: `name:`, else the file stem; `text` is the file's YAML, to name a
/// problem's line.
pub(super) fn entry_name(name: Option<String>, file: &Path, text: &str) -> Result<String, Problem> {
    let name = match name {
        Some(name) => name,
        None => file
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or_default()
            .to_string(),
    };
    if !valid_name(&name) {
        return Err(Problem::new(
            file,
            key_line(text, "name"),
            format!("upstream name `{name}` must match [a-z0-9][a-z0-9-]* (set `name:` or rename the file)"),
        ));
    }
    Ok(name)
}

/// A registry YAML file's MCP server (its `mcp:` block is `mcp`); an entry has at most one
/// problem, the first found.
pub(super) fn resolve(
    name: String,
    raw: RawUpstream,
    mcp: RawMcpUpstream,
    file: &Path,
    base: &Path,
    text: &str,
) -> Result<UpstreamSpec, Problem> {
    let transport = transport::resolve(mcp, file, base, text)?;
    if raw.max_message_bytes.is_some_and(|n| n < MIN_MESSAGE_BYTES) {
        return Err(Problem::new(
            file,
            key_line(text, "max_message_bytes"),
            format!("max_message_bytes: must be at least {MIN_MESSAGE_BYTES} (an initialize result must fit)"),
        ));
    }
    let defaults = UpstreamSpec::with_defaults(name, file, None, transport);
    Ok(UpstreamSpec {
        tools: NameFilter::from_raw(raw.tools),
        prompts: NameFilter::from_raw(raw.prompts),
        resources: NameFilter::from_raw(raw.resources),
        required: raw.required.unwrap_or(defaults.required),
        timeouts: Timeouts::from_raw(raw.timeouts),
        max_message_bytes: raw.max_message_bytes.unwrap_or(defaults.max_message_bytes),
        validate_arguments: raw.validate_arguments.unwrap_or(defaults.validate_arguments),
        ..defaults
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    pub connect: Duration,
    /// From sending a request until the response headers (or first stdio byte) arrive.
    pub first_byte: Duration,
    /// A whole request, streaming included.
    pub total: Duration,
    /// Spawning and initializing the upstream.
    pub startup: Duration,
    /// One page of a catalog list (`tools/list` …); a server that cannot list promptly is
    /// treated as failing, so it cannot hold up readiness.
    pub list: Duration,
}

impl Timeouts {
    pub const DEFAULT: Self = Self {
        connect: Duration::from_secs(10),
        first_byte: Duration::from_secs(60),
        total: Duration::from_secs(300),
        startup: Duration::from_secs(120),
        list: Duration::from_secs(10),
    };

    pub(super) fn from_raw(raw: Option<RawTimeouts>) -> Self {
        let raw = raw.unwrap_or_default();
        let d = Self::DEFAULT;
        Self {
            connect: raw.connect.map_or(d.connect, |v| v.0),
            first_byte: raw.first_byte.map_or(d.first_byte, |v| v.0),
            total: raw.total.map_or(d.total, |v| v.0),
            startup: raw.startup.map_or(d.startup, |v| v.0),
            list: raw.list.map_or(d.list, |v| v.0),
        }
    }
}

/// `include` / `exclude` globs (`*`, `?`) and renames for one kind of item.
#[derive(Debug, Clone, Default)]
pub struct NameFilter {
    pub include: Vec<String>,
    pub exclude: Vec<String>,
    /// original name → exposed name.
    pub rename: BTreeMap<String, String>,
}

impl NameFilter {
    pub(super) fn from_raw(raw: RawFilter) -> Self {
        Self {
            include: raw.include,
            exclude: raw.exclude,
            rename: raw.rename,
        }
    }

    /// Whether an item with this original name is served.
    pub fn admits(&self, name: &str) -> bool {
        let included = self.include.is_empty() || self.include.iter().any(|g| glob_match(g, name));
        included && !self.exclude.iter().any(|g| glob_match(g, name))
    }

    /// The name an item is exposed under (before any prefix).
    pub fn exposed<'a>(&'a self, name: &'a str) -> &'a str {
        self.rename.get(name).map_or(name, String::as_str)
    }
}

/// Shell-style glob: `*` (a run of characters), `?` (one character), `**` (any run).
/// `*` and `?` stop at `/`, `**` crosses it: `file:///docs/*` admits `file:///docs/a` but not
/// `file:///docs/private/a`. Linear in pattern × text (no backtracking blow-up on hostile URIs).
fn glob_match(pattern: &str, text: &str) -> bool {
    enum Token {
        Char(char),
        One,
        Star,
        Stars,
    }
    let mut tokens = Vec::new();
    let mut chars = pattern.chars().peekable();
    while let Some(c) = chars.next() {
        tokens.push(match c {
            '*' if chars.peek() == Some(&'*') => {
                chars.next();
                Token::Stars
            }
            '*' => Token::Star,
            '?' => Token::One,
            c => Token::Char(c),
        });
    }
    let text: Vec<char> = text.chars().collect();
    // row[j]: the tokens so far match text[..j].
    let mut row = vec![false; text.len() + 1];
    row[0] = true;
    for token in &tokens {
        let prev = std::mem::replace(&mut row, vec![false; text.len() + 1]);
        for j in 0..=text.len() {
            let before = j.checked_sub(1).map(|k| (prev[k], text[k]));
            row[j] = match token {
                Token::Char(c) => before.is_some_and(|(m, t)| m && t == *c),
                Token::One => before.is_some_and(|(m, t)| m && t != '/'),
                Token::Star => prev[j] || (j > 0 && row[j - 1] && text[j - 1] != '/'),
                Token::Stars => prev[j] || (j > 0 && row[j - 1]),
            };
        }
    }
    row[text.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(glob_match("get_*", "get_issue"));
        assert!(glob_match("*", ""));
        assert!(glob_match("a?c", "abc"));
        assert!(!glob_match("get_*", "list_issues"));
        assert!(glob_match("*_issue*", "create_issue_comment"));
        assert!(!glob_match("a*b", "acbd"));
        assert!(glob_match("file:///docs/*", "file:///docs/a.md"));
        assert!(!glob_match("file:///docs/*", "file:///docs/private/a.md"));
        assert!(!glob_match("file:///docs/?", "file:///docs//"));
        assert!(glob_match("file:///docs/**", "file:///docs/private/a.md"));
        assert!(glob_match("**.md", "file:///a/b.md"));
        // Hostile text against many stars stays linear.
        assert!(!glob_match("*a*a*a*a*a*a*b", &"a".repeat(5000)));
    }

    #[test]
    fn filter_include_exclude_rename() {
        let f = NameFilter {
            include: vec!["get_*".into(), "search_*".into()],
            exclude: vec!["get_secret".into()],
            rename: [("search_code".to_string(), "code_search".to_string())].into(),
        };
        assert!(f.admits("get_issue"));
        assert!(!f.admits("get_secret"));
        assert!(!f.admits("delete_repo"));
        assert_eq!(f.exposed("search_code"), "code_search");
        assert_eq!(f.exposed("get_issue"), "get_issue");
    }
}
