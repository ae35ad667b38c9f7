//! `${env:NAME}` and `${file:PATH}` in config strings.
//!
//! Expansion happens while a string is deserialized, so an error (a missing variable, an unreadable
//! file) carries the parser's line number like any other config error. `${file:…}` paths are
//! relative to the directory of the file being parsed, which the loader sets for the duration of
//! one parse with [`with_base_dir`]. A leaf raw and resolved files both use; imports nothing from
//! `config`.

use std::cell::RefCell;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Deserializer};

thread_local! {
    static BASE_DIR: RefCell<Option<PathBuf>> = const { RefCell::new(None) };
}

/// Runs `parse` with `dir` as the base for relative `${file:…}` paths.
pub fn with_base_dir<T>(dir: &Path, parse: impl FnOnce() -> T) -> T {
    let previous = BASE_DIR.with(|b| b.replace(Some(dir.to_path_buf())));
    let out = parse();
    BASE_DIR.with(|b| *b.borrow_mut() = previous);
    out
}

/// Which placeholder forms a file may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Syntax {
    /// agentmux YAML and VS Code: `${env:NAME}`, `${file:PATH}`.
    Agentmux,
    /// Claude Code `.mcp.json` also writes `${NAME}` and `${NAME:-default}`.
    ClaudeCode,
}

/// Expands every placeholder in `text`.
pub fn expand(text: &str, syntax: Syntax) -> Result<String, String> {
    if !text.contains("${") {
        return Ok(text.to_string());
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after
            .find('}')
            .ok_or_else(|| format!("unterminated placeholder in `{text}` (missing `}}`)"))?;
        out.push_str(&resolve(&after[..end], syntax)?);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

fn resolve(placeholder: &str, syntax: Syntax) -> Result<String, String> {
    if let Some(name) = placeholder.strip_prefix("env:") {
        return std::env::var(name)
            .map_err(|_| format!("environment variable `{name}` is not set (used as ${{env:{name}}})"));
    }
    if let Some(path) = placeholder.strip_prefix("file:") {
        let full = BASE_DIR.with(|b| match &*b.borrow() {
            Some(base) => base.join(path),
            None => PathBuf::from(path),
        });
        let content = std::fs::read_to_string(&full)
            .map_err(|e| format!("cannot read `{}` (used as ${{file:{path}}}): {e}", full.display()))?;
        // Secret files usually end with a newline that is not part of the secret.
        return Ok(content.trim_end_matches(['\n', '\r']).to_string());
    }
    if syntax == Syntax::ClaudeCode {
        let (name, default) = match placeholder.split_once(":-") {
            Some((name, default)) => (name, Some(default)),
            None => (placeholder, None),
        };
        if is_env_name(name) {
            return match (std::env::var(name), default) {
                (Ok(v), _) => Ok(v),
                (Err(_), Some(d)) => Ok(d.to_string()),
                (Err(_), None) => Err(format!(
                    "environment variable `{name}` is not set (used as ${{{name}}})"
                )),
            };
        }
    }
    Err(format!(
        "unknown placeholder `${{{placeholder}}}` (use ${{env:NAME}} or ${{file:PATH}})"
    ))
}

fn is_env_name(name: &str) -> bool {
    !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// A config string with placeholders already expanded.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Text(pub String);

impl std::fmt::Debug for Text {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl<'de> Deserialize<'de> for Text {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(deserializer)?;
        expand(&raw, Syntax::Agentmux)
            .map(Text)
            .map_err(serde::de::Error::custom)
    }
}

/// A credential, which must come from the environment or a file: the whole value is one
/// `${env:NAME}` or `${file:PATH}`, so a key is never written into a config file that gets
/// committed, shared or logged.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretRef(pub String);

impl std::fmt::Debug for SecretRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("\"<redacted>\"")
    }
}

impl<'de> Deserialize<'de> for SecretRef {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(deserializer)?;
        let whole = raw.starts_with("${") && raw.ends_with('}') && raw.matches("${").count() == 1;
        let kind = raw
            .get(2..)
            .is_some_and(|r| r.starts_with("env:") || r.starts_with("file:"));
        if !(whole && kind) {
            return Err(serde::de::Error::custom(
                "a credential is given as `${env:NAME}` or `${file:PATH}`, never written into the config",
            ));
        }
        expand(&raw, Syntax::Agentmux)
            .map(SecretRef)
            .map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expands_env_and_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("token"), "s3cret\n").unwrap();
        // PATH is set in every test environment.
        let path = std::env::var("PATH").unwrap();
        let out = with_base_dir(dir.path(), || expand("a ${env:PATH} b ${file:token}", Syntax::Agentmux));
        assert_eq!(out.unwrap(), format!("a {path} b s3cret"));
    }

    #[test]
    fn credentials_come_only_from_env_or_files() {
        let parse = |text: &str| serde_yaml_ng::from_str::<SecretRef>(text);
        assert_eq!(parse("${env:PATH}").unwrap().0, std::env::var("PATH").unwrap());
        for written in ["sk-live-123", "Bearer ${env:PATH}", "${env:PATH}${env:PATH}"] {
            let err = parse(written).unwrap_err().to_string();
            assert!(err.contains("never written into the config"), "{written}: {err}");
        }
        assert!(
            !format!("{:?}", parse("${env:PATH}").unwrap()).contains('/'),
            "never printed"
        );
    }

    #[test]
    fn names_what_is_missing() {
        let err = expand("${env:AGENTMUX_SURELY_UNSET}", Syntax::Agentmux).unwrap_err();
        assert!(err.contains("AGENTMUX_SURELY_UNSET"), "{err}");
        let err = expand("${nope}", Syntax::Agentmux).unwrap_err();
        assert!(err.contains("unknown placeholder"), "{err}");
        assert!(
            expand("${env:X", Syntax::Agentmux)
                .unwrap_err()
                .contains("unterminated")
        );
    }

    #[test]
    fn claude_code_defaults() {
        assert_eq!(
            expand("${AGENTMUX_SURELY_UNSET:-dflt}", Syntax::ClaudeCode).unwrap(),
            "dflt"
        );
        assert!(expand("${AGENTMUX_SURELY_UNSET}", Syntax::ClaudeCode).is_err());
        assert!(expand("${AGENTMUX_SURELY_UNSET}", Syntax::Agentmux).is_err());
    }
}
