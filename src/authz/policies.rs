//! Reading `policies/*.cedar` into one validated policy set.

use std::path::{Path, PathBuf};

use cedar_policy::{PolicyId, PolicySet, Schema, ValidationMode, Validator};

use super::schema::{Arguments, cedar_schema};

/// The schema file that, when present in the policy directory, replaces the generated one.
pub const SCHEMA_FILE: &str = "agentmux.cedarschema";

/// A policy set that passed validation, and what it was read from.
pub struct Loaded {
    pub set: PolicySet,
    /// The set's scopes, to evaluate only the policies that can apply.
    pub index: super::slice::Index,
    /// The context values the policies read.
    pub needs: super::request::Needs,
    /// Decisions of this set, remembered.
    pub memo: super::memo::Memo,
    /// Entities and policy slices per caller and target, for decisions not remembered.
    pub scenes: super::scene::Scenes,
    /// Policy ids in file order, for messages.
    pub ids: Vec<String>,
    pub files: Vec<PathBuf>,
    /// A digest of the files read, to notice changes.
    pub digest: u64,
    /// What the validator found suspicious but not wrong (e.g. a `has` test that can never hold).
    pub warnings: Vec<String>,
    /// The policy texts, for `policy validate`'s checks against the catalog.
    pub texts: Vec<String>,
}

/// Why a policy set was refused: every problem, each naming its file.
#[derive(Debug, thiserror::Error)]
#[error("{}", .problems.join("\n"))]
pub struct PolicyError {
    pub problems: Vec<String>,
}

impl PolicyError {
    fn one(message: String) -> Self {
        Self {
            problems: vec![message],
        }
    }
}

/// The files a load would read, sorted, with a digest of their names and contents.
pub fn scan(dir: &Path) -> Result<(Vec<PathBuf>, Option<PathBuf>, u64), PolicyError> {
    use std::hash::{Hash, Hasher};
    let entries = std::fs::read_dir(dir)
        .map_err(|e| PolicyError::one(format!("{}: cannot read the policy directory: {e}", dir.display())))?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "cedar"))
        .collect();
    files.sort();
    let schema = dir.join(SCHEMA_FILE);
    let schema = schema.is_file().then_some(schema);
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    for f in files.iter().chain(schema.iter()) {
        f.hash(&mut hasher);
        std::fs::read(f).unwrap_or_default().hash(&mut hasher);
    }
    Ok((files, schema, hasher.finish()))
}

/// The policy files of a directory, parsed and named, not yet validated.
struct Read {
    set: PolicySet,
    ids: Vec<String>,
    texts: Vec<String>,
    files: Vec<PathBuf>,
    schema_file: Option<PathBuf>,
    digest: u64,
}

fn read(dir: &Path) -> Result<Read, PolicyError> {
    let (files, schema_file, digest) = scan(dir)?;
    let mut set = PolicySet::new();
    let mut ids = Vec::new();
    let mut problems = Vec::new();
    let mut texts = Vec::new();
    for path in &files {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) => {
                problems.push(format!("{}: {e}", path.display()));
                continue;
            }
        };
        texts.push(text.clone());
        let name = path
            .file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
        let parsed: PolicySet = match text.parse() {
            Ok(p) => p,
            Err(e) => {
                problems.push(format!("{}: {}", path.display(), render(&e, &text)));
                continue;
            }
        };
        if parsed.templates().next().is_some() {
            problems.push(format!(
                "{}: policy templates are not supported; write policies",
                path.display()
            ));
        }
        for (n, policy) in parsed.policies().enumerate() {
            // `@id("…")` names a policy in decisions and audit lines; else its file and position.
            let id = policy
                .annotation("id")
                .map_or_else(|| format!("{name}#{}", n + 1), str::to_string);
            if ids.contains(&id) {
                problems.push(format!("{}: policy id `{id}` is used twice", path.display()));
                continue;
            }
            if let Err(e) = set.add(policy.new_id(PolicyId::new(&id))) {
                problems.push(format!("{}: {e}", path.display()));
            }
            ids.push(id);
        }
    }
    if !problems.is_empty() {
        return Err(PolicyError { problems });
    }
    Ok(Read {
        set,
        ids,
        texts,
        files,
        schema_file,
        digest,
    })
}

fn read_schema(path: &Path) -> Result<Schema, PolicyError> {
    let text = std::fs::read_to_string(path).map_err(|e| PolicyError::one(format!("{}: {e}", path.display())))?;
    parse_schema(&text).map_err(|e| PolicyError::one(format!("{}: {e}", path.display())))
}

/// What `agentmux validate` can check without connecting to upstreams: every file parses, ids
/// are unique, and, when the directory pins a schema file, the set validates against it.
/// Returns the number of policies and whether they were validated against a schema.
pub fn check(dir: &Path) -> Result<(usize, bool), PolicyError> {
    let read = read(dir)?;
    let Some(path) = &read.schema_file else {
        return Ok((read.ids.len(), false));
    };
    validate(&read.set, &read_schema(path)?)?;
    Ok((read.ids.len(), true))
}

fn validate(set: &PolicySet, schema: &Schema) -> Result<cedar_policy::ValidationResult, PolicyError> {
    let result = Validator::new(schema.clone()).validate(set, ValidationMode::Strict);
    if result.validation_passed() {
        return Ok(result);
    }
    let problems = result
        .validation_errors()
        .map(|e| format!("policy `{}`: {e}{}", e.policy_id(), help(e)))
        .collect();
    Err(PolicyError { problems })
}

/// Reads and validates the policies in `dir` against its schema file, or else against the
/// schema generated from `arguments` and `claims`.
pub fn load(dir: &Path, arguments: &Arguments, claims: &[String]) -> Result<Loaded, PolicyError> {
    let Read {
        set,
        ids,
        texts,
        files,
        schema_file,
        digest,
    } = read(dir)?;
    let schema = match &schema_file {
        Some(path) => read_schema(path)?,
        None => parse_schema(&cedar_schema(arguments, claims))
            .map_err(|e| PolicyError::one(format!("the generated schema is invalid (a bug): {e}")))?,
    };
    let result = validate(&set, &schema)?;
    let warnings = result
        .validation_warnings()
        .map(|w| format!("policy `{}`: {w}{}", w.policy_id(), help(w)))
        .collect();
    let needs = super::request::Needs::of(&set);
    Ok(Loaded {
        memo: super::memo::Memo::new(),
        scenes: super::scene::Scenes::new(),
        needs,
        index: super::slice::Index::new(&set),
        warnings,
        texts,
        set,
        ids,
        files,
        digest,
    })
}

fn help(e: &dyn miette::Diagnostic) -> String {
    e.help().map_or_else(String::new, |h| format!(" ({h})"))
}

fn parse_schema(text: &str) -> Result<Schema, String> {
    Schema::from_cedarschema_str(text)
        .map(|(schema, _warnings)| schema)
        .map_err(|e| format!("{e}{}", help(&e)))
}

/// A parse error with the line it points to, and Cedar's hint.
fn render(e: &cedar_policy::ParseErrors, text: &str) -> String {
    use miette::Diagnostic;
    let offset = e.labels().and_then(|mut labels| labels.next()).map(|l| l.offset());
    let help = help(e);
    match offset {
        Some(offset) => {
            let line = text[..offset.min(text.len())].matches('\n').count() + 1;
            format!("line {line}: {e}{help}")
        }
        None => format!("{e}{help}"),
    }
}
