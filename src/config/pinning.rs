//! `pinning:`: tool definitions checked against an approved lock file. Reads `raw` only; the
//! lock file itself is read by the pinning layer, not here.

use std::path::{Path, PathBuf};

use super::raw::{RawChanged, RawNew, RawPinning};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnChanged {
    Hide,
    Flag,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnNew {
    Allow,
    Hide,
}

#[derive(Debug, Clone)]
pub struct PinningSettings {
    pub lock: PathBuf,
    pub changed: OnChanged,
    pub new: OnNew,
}

impl PinningSettings {
    /// The defaults for the config file at `config`: the lock `agentmux.lock` beside it. What
    /// `agentmux tools approve`/`diff` use when the config has no `pinning:`.
    pub fn defaults_for(config: &Path) -> Self {
        let base = config.parent().map_or_else(|| PathBuf::from("."), Path::to_path_buf);
        resolve(RawPinning::default(), &base)
    }
}

/// `pinning:` with its defaults; the lock path is relative to `base`, the config's directory.
pub(super) fn resolve(raw: RawPinning, base: &Path) -> PinningSettings {
    PinningSettings {
        lock: base.join(raw.lock.map_or_else(|| "agentmux.lock".into(), |t| t.0)),
        changed: match raw.changed {
            None | Some(RawChanged::Hide) => OnChanged::Hide,
            Some(RawChanged::Flag) => OnChanged::Flag,
        },
        new: match raw.new {
            None | Some(RawNew::Allow) => OnNew::Allow,
            Some(RawNew::Hide) => OnNew::Hide,
        },
    }
}
