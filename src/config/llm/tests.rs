use std::time::Duration;

use super::*;

fn providers() -> Vec<ProviderSpec> {
    vec![ProviderSpec {
        name: "openai".into(),
        declared_in: PathBuf::from("registry/openai.yaml"),
        kind: ProviderKind::Openai,
        url: "https://api.openai.com/v1".into(),
        key: None,
        models: ModelSet::Listed(vec!["gpt-4.1".into()]),
        headers: BTreeMap::new(),
        api_version: None,
        aws: None,
        timeouts: Timeouts::DEFAULT,
    }]
}

/// The `llm:` section in `yaml`, resolved: the settings, or every problem's message.
fn resolve_llm(yaml: &str) -> Result<LlmSettings, Vec<String>> {
    let raw: RawLlm = serde_yaml_ng::from_str(yaml).map_err(|e| vec![e.to_string()])?;
    let mut problems = Vec::new();
    let settings = resolve(Path::new("agentmux.yaml"), &raw, &providers(), &mut problems);
    if problems.is_empty() {
        Ok(settings)
    } else {
        Err(problems.iter().map(|p| p.message.clone()).collect())
    }
}

fn refused(yaml: &str) -> String {
    match resolve_llm(yaml) {
        Ok(_) => panic!("accepted: {yaml}"),
        Err(problems) => {
            assert_eq!(problems.len(), 1, "{problems:?}");
            problems[0].clone()
        }
    }
}

#[test]
fn a_webhook_guard_is_read_with_its_defaults() {
    let settings = resolve_llm(
        "guards:
  - name: cards
    builtin: credit_card
    action: mask
  - name: dlp
    webhook:
      url: https://dlp.internal/check
      headers: { Authorization: Bearer t0ken }
    on: [request]
    models: [openai/gpt-4.1]
  - name: audit-only
    webhook: { url: 'http://127.0.0.1:9/check', timeout: 250ms, on_error: allow }
",
    )
    .unwrap();
    assert_eq!(settings.guards.len(), 1, "the recognizer guard stays with its kind");
    let [dlp, audit_only] = settings.webhooks.as_slice() else {
        panic!("{:?}", settings.webhooks)
    };
    assert_eq!(dlp.name, "dlp");
    assert_eq!(dlp.url, "https://dlp.internal/check");
    assert_eq!(dlp.timeout, Duration::from_secs(2));
    assert_eq!(dlp.on_error, OnError::Deny, "fails closed unless told otherwise");
    assert_eq!(dlp.headers["Authorization"].0, "Bearer t0ken");
    assert_eq!(dlp.models, ["openai/gpt-4.1"]);
    assert_eq!(audit_only.timeout, Duration::from_millis(250));
    assert_eq!(audit_only.on_error, OnError::Allow);
    assert!(!format!("{dlp:?}").contains("t0ken"), "header values are never printed");
}

#[test]
fn webhook_guard_mistakes_name_the_guard_and_the_field() {
    let cases = [
        (
            "guards: [{name: dlp, webhook: {url: 'https://x/c'}, on: [response]}]",
            "llm.guards `dlp`: on: webhook guards apply to requests only",
        ),
        (
            "guards: [{name: dlp, webhook: {url: 'https://x/c'}, on: [request, response]}]",
            "llm.guards `dlp`: on: webhook guards apply to requests only",
        ),
        (
            "guards: [{name: dlp, webhook: {url: 'https://x/c'}, regex: 'a+', action: reject}]",
            "llm.guards `dlp`: give one of `builtin`, `regex` or `webhook`",
        ),
        (
            "guards: [{name: dlp, webhook: {url: 'https://x/c'}, action: reject}]",
            "llm.guards `dlp`: action: a webhook guard takes none",
        ),
        (
            "guards: [{name: dlp, webhook: {url: 'ftp://x/c'}}]",
            "llm.guards `dlp`: webhook.url: `ftp://x/c` is not an http(s) URL",
        ),
        (
            "guards: [{name: dlp, webhook: {url: 'not a url'}}]",
            "llm.guards `dlp`: webhook.url: `not a url`",
        ),
        (
            "guards: [{name: dlp, webhook: {url: 'https://x/c', timeout: 31s}}]",
            "llm.guards `dlp`: webhook.timeout: 31s is outside",
        ),
        (
            "guards: [{name: dlp, webhook: {url: 'https://x/c', timeout: 0s}}]",
            "llm.guards `dlp`: webhook.timeout: 0ns is outside",
        ),
        (
            "guards: [{name: dlp, webhook: {url: 'https://x/c', headers: {'bad header': x}}}]",
            "llm.guards `dlp`: webhook.headers: `bad header` is not a header name",
        ),
        (
            "guards: [{name: dlp, webhook: {url: 'https://x/c'}, models: [nope]}]",
            "llm.guards `dlp`: models: `nope` is neither",
        ),
        (
            "guards: [{name: cards, builtin: credit_card}]",
            "llm.guards `cards`: action: required",
        ),
    ];
    for (yaml, expected) in cases {
        let message = refused(yaml);
        assert!(message.starts_with(expected), "{yaml}\n  gave: {message}");
    }
}

#[test]
fn a_webhook_guard_takes_only_its_own_keys() {
    let message = resolve_llm("guards: [{name: dlp, webhook: {url: 'https://x/c', retries: 3}}]")
        .err()
        .unwrap()
        .join("\n");
    assert!(message.contains("retries"), "{message}");
}

#[test]
fn retries_default_and_are_bounded() {
    let settings = resolve_llm("models: {}\n").unwrap();
    assert_eq!(settings.retries, Retries::default());
    let settings = resolve_llm("retries: {attempts: 6, budget: 12s, wait: 2s}\n").unwrap();
    assert_eq!(
        settings.retries,
        Retries {
            attempts: 6,
            budget: Duration::from_secs(12),
            wait: Duration::from_secs(2)
        }
    );
    for (yaml, expect) in [
        ("retries: {attempts: 0}\n", "llm.retries.attempts: 0 is not 1 to 10"),
        ("retries: {attempts: 11}\n", "llm.retries.attempts: 11 is not 1 to 10"),
        ("retries: {budget: 0s}\n", "llm.retries.budget: more than 0"),
        (
            "retries: {budget: 5s, wait: 6s}\n",
            "llm.retries.wait: 6s is longer than the budget (5s)",
        ),
    ] {
        let problems = resolve_llm(yaml).unwrap_err();
        assert!(problems.iter().any(|p| p.contains(expect)), "{yaml}: {problems:?}");
    }
}
