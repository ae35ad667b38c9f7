//! Config problems that name the file, the line and the key, so `agentmux validate` can list them all.
//! A leaf: every other config file reports through it, so it imports nothing from `config`.

use std::fmt;
use std::path::{Path, PathBuf};

/// One thing wrong with the configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub file: PathBuf,
    /// 1-based line, when the parser knows it.
    pub line: Option<usize>,
    pub message: String,
}

impl Problem {
    pub fn new(file: &Path, line: Option<usize>, message: impl Into<String>) -> Self {
        Self {
            file: file.to_path_buf(),
            line,
            message: message.into(),
        }
    }

    pub fn from_yaml(file: &Path, err: &serde_yaml_ng::Error) -> Self {
        let line = err.location().map(|l| l.line());
        // serde_yaml_ng appends " at line N column M"; the line is reported separately.
        let text = err.to_string();
        let message = match text.find(" at line ") {
            Some(cut) => text[..cut].to_string(),
            None => text,
        };
        Self::new(file, line, message)
    }

    pub fn from_json(file: &Path, err: &serde_json::Error) -> Self {
        let text = err.to_string();
        let message = match text.find(" at line ") {
            Some(cut) => text[..cut].to_string(),
            None => text,
        };
        Self::new(file, Some(err.line()).filter(|&l| l > 0), message)
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{}: {}", self.file.display(), line, self.message),
            None => write!(f, "{}: {}", self.file.display(), self.message),
        }
    }
}

/// The 1-based line of a top-level `key:` in a YAML text, for problems found after parsing.
pub(super) fn key_line(text: &str, key: &str) -> Option<usize> {
    text.lines()
        .position(|l| {
            l.strip_prefix(key)
                .is_some_and(|rest| rest.trim_start().starts_with(':'))
        })
        .map(|i| i + 1)
}

/// The 1-based line of the first `key:` at any depth, for problems found after parsing.
pub(super) fn nested_key_line(text: &str, key: &str) -> Option<usize> {
    text.lines()
        .position(|l| {
            l.trim_start()
                .strip_prefix(key)
                .is_some_and(|rest| rest.trim_start().starts_with(':'))
        })
        .map(|i| i + 1)
}

/// Every problem found while loading a configuration.
#[derive(Debug, thiserror::Error)]
pub struct ConfigError {
    pub problems: Vec<Problem>,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.problems.len();
        writeln!(f, "{n} problem{} in the configuration:", if n == 1 { "" } else { "s" })?;
        for p in &self.problems {
            writeln!(f, "  {p}")?;
        }
        Ok(())
    }
}
