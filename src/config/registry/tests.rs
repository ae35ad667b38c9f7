use super::*;
use crate::config::transport::ClientAuth;

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

#[test]
fn reads_yaml_and_ide_files() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "everything.yaml",
        "mcp:\n  command: npx\n  args: [\"-y\", \"server\"]\n",
    );
    write(
        dir.path(),
        "search.yaml",
        "mcp:\n  url: http://127.0.0.1:9000/mcp\ntools:\n  include: [\"get_*\"]\n  rename: { a: b }\n",
    );
    write(
        dir.path(),
        "claude.json",
        r#"{"mcpServers": {"My Server": {"command": "node", "args": ["x.js"]}, "remote": {"type": "http", "url": "https://example.com/mcp"}, "off": {"command": "x", "disabled": true}}}"#,
    );
    write(
        dir.path(),
        "vscode.json",
        r#"{"servers": {"gh": {"type": "sse", "url": "http://127.0.0.1:1/sse"}}, "inputs": []}"#,
    );
    write(dir.path(), "README.md", "not an upstream");
    let mut problems = Vec::new();
    let ups = load(&[dir.path().to_path_buf()], true, &mut problems).upstreams;
    assert!(problems.is_empty(), "{problems:?}");
    let names: Vec<_> = ups.iter().map(|u| (u.name.as_str(), u.transport.kind())).collect();
    assert_eq!(
        names,
        [
            ("my-server", "stdio"),
            ("remote", "streamable-http"),
            ("everything", "stdio"),
            ("search", "streamable-http"),
            ("gh", "sse")
        ]
    );
    assert!(ups[3].tools.admits("get_x") && !ups[3].tools.admits("put_x"));
}

#[test]
fn unknown_keys_name_file_line_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let f = write(dir.path(), "bad.yaml", "mcp:\n  command: x\n  argz: []\n");
    let mut problems = Vec::new();
    load(std::slice::from_ref(&f), true, &mut problems);
    assert_eq!(problems.len(), 1);
    assert_eq!(problems[0].file, f);
    assert_eq!(problems[0].line, Some(3));
    assert!(problems[0].message.contains("argz"), "{}", problems[0]);
}

#[test]
fn reports_every_bad_file_and_clashes() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "a.yaml", "mcp: {}\n");
    write(dir.path(), "b.yaml", "mcp:\n  command: x\n  url: http://y\n");
    write(dir.path(), "Bad_Name.yaml", "mcp:\n  command: x\n");
    write(dir.path(), "c.yaml", "mcp:\n  command: ${env:AGENTMUX_SURELY_UNSET}\n");
    write(
        dir.path(),
        "dup.json",
        r#"{"mcpServers": {"D": {"command": "x"}, "d": {"command": "y"}}}"#,
    );
    let mut problems = Vec::new();
    load(&[dir.path().to_path_buf()], true, &mut problems);
    let text: Vec<String> = problems.iter().map(ToString::to_string).collect();
    assert_eq!(problems.len(), 5, "{text:#?}");
    assert!(
        text.iter()
            .any(|t| t.contains("AGENTMUX_SURELY_UNSET") && t.contains(":2:")),
        "{text:#?}"
    );
    assert!(text.iter().any(|t| t.contains("also declared")), "{text:#?}");
}

#[test]
fn normalizes_ide_names() {
    assert_eq!(normalize_name("GitHub Copilot"), "github-copilot");
    assert_eq!(normalize_name("_x.y"), "x-y");
    assert_eq!(normalize_name("a_b"), "a-b");
}

/// Loads one registry file (next to `secret.txt`); the upstream, or the problems' text.
fn load_one(text: &str) -> Result<UpstreamSpec, Vec<String>> {
    let dir = tempfile::tempdir().unwrap();
    let f = write(dir.path(), "up.yaml", text);
    write(dir.path(), "secret.txt", "s3cret\n");
    let mut problems = Vec::new();
    let mut ups = load(std::slice::from_ref(&f), true, &mut problems).upstreams;
    if problems.is_empty() {
        Ok(ups.remove(0))
    } else {
        Err(problems.iter().map(ToString::to_string).collect())
    }
}

#[test]
fn oauth_block_with_defaults_and_secret_from_a_file() {
    let up = load_one(
        "mcp:\n  url: https://api.example.com/mcp\n  oauth:\n    token_url: https://idp.example.com/token\n    client_id: agentmux\n    client_secret: ${file:secret.txt}\n",
    )
    .unwrap();
    let TransportSpec::StreamableHttp { oauth: Some(o), .. } = &up.transport else {
        panic!("{:?}", up.transport)
    };
    assert_eq!(o.client_secret, Secret("s3cret".into()));
    assert_eq!(o.auth_method, ClientAuth::Basic);
    assert!(o.scopes.is_empty() && o.audience.is_none() && o.resource.is_none());
    assert!(!format!("{up:?}").contains("s3cret"));

    let up = load_one(
        "mcp:\n  url: http://127.0.0.1:9/sse\n  transport: sse\n  oauth:\n    token_url: http://127.0.0.1:8/token\n    client_id: a\n    client_secret: b\n    scopes: [read, write]\n    audience: api\n    resource: http://127.0.0.1:9/\n    auth_method: post\n",
    )
    .unwrap();
    let TransportSpec::Sse { oauth: Some(o), .. } = &up.transport else {
        panic!("{:?}", up.transport)
    };
    assert_eq!(o.auth_method, ClientAuth::Post);
    assert_eq!(o.scopes, ["read", "write"]);
    assert_eq!(o.audience.as_deref(), Some("api"));
    assert_eq!(o.resource.as_deref(), Some("http://127.0.0.1:9/"));
}

#[test]
fn oauth_misuse_is_reported_with_the_file() {
    let oauth = "  oauth:\n    token_url: https://idp/token\n    client_id: a\n    client_secret: b\n";
    let cases = [
        (format!("mcp:\n  command: x\n{oauth}"), ":3: mcp.oauth: gets a token for an HTTP upstream"),
        (
            format!("mcp:\n  url: http://x/mcp\n  headers: {{ authorization: Bearer y }}\n{oauth}"),
            "remove the static `Authorization` header",
        ),
        (
            format!("mcp:\n  url: ws://x/mcp\n  transport: websocket\n{oauth}"),
            "not websocket",
        ),
        (
            "mcp:\n  url: http://x/mcp\n  oauth:\n    token_url: ftp://idp/token\n    client_id: a\n    client_secret: b\n"
                .into(),
            "mcp.oauth.token_url: `ftp://idp/token` is not an http(s) URL",
        ),
        (
            format!("mcp:\n  url: http://x/mcp\n{oauth}    scopes: [\"a b\"]\n"),
            "mcp.oauth.scopes: `a b`",
        ),
        (
            format!("mcp:\n  url: http://x/mcp\n{oauth}    grant: password\n"),
            "unknown field `grant`",
        ),
        (
            format!("mcp:\n  url: http://x/mcp\n{oauth}    auth_method: jwt\n"),
            "unknown variant `jwt`",
        ),
        (
            "mcp:\n  url: http://x/mcp\n  oauth:\n    token_url: https://idp/token\n    client_id: a\n".into(),
            "missing field `client_secret`",
        ),
    ];
    for (text, expected) in cases {
        let problems = load_one(&text).unwrap_err();
        assert_eq!(problems.len(), 1, "{text}: {problems:#?}");
        assert!(
            problems[0].contains("up.yaml") && problems[0].contains(expected),
            "{text}: {problems:#?}"
        );
    }
}

#[test]
fn a2a_agents_are_read_and_checked() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "planner.yaml",
        "a2a:\n  url: http://127.0.0.1:9999/\n  headers: { X-Team: ops }\ntools:\n  exclude: [\"admin-*\"]\n",
    );
    write(
        dir.path(),
        "cards.yaml",
        "a2a:\n  card: https://agents.example.com/card.json\n  signatures: keep\n",
    );
    let mut problems = Vec::new();
    let registry = load(&[dir.path().to_path_buf()], true, &mut problems);
    assert!(problems.is_empty(), "{problems:?}");
    assert!(registry.upstreams.is_empty());
    let names: Vec<_> = registry
        .agents
        .iter()
        .map(|a| (a.name.as_str(), a.card_url.as_str()))
        .collect();
    assert_eq!(
        names,
        [
            ("cards", "https://agents.example.com/card.json"),
            ("planner", "http://127.0.0.1:9999/.well-known/agent-card.json")
        ]
    );
    assert!(!registry.agents[1].tools.admits("admin-reset"));

    for (text, expect) in [
        ("a2a:\n  url: http://x\n  bogus: 1\n", "unknown field `bogus`"),
        ("a2a:\n  url: http://x\nmcp:\n  url: http://y\n", "not two"),
        (
            "a2a:\n  url: http://x\nprompts:\n  exclude: [a]\n",
            "`prompts` applies to MCP servers",
        ),
        ("a2a:\n  url: ftp://x\n", "not an http(s) URL"),
        ("name: fast\n", "missing `mcp:`"),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let f = write(dir.path(), "a.yaml", text);
        let mut problems = Vec::new();
        load(std::slice::from_ref(&f), true, &mut problems);
        assert!(
            problems.iter().any(|p| p.to_string().contains(expect)),
            "{text}: {problems:?}"
        );
    }

    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "a.yaml", "name: same\na2a:\n  url: http://x\n");
    write(dir.path(), "b.yaml", "name: same\nmcp:\n  url: http://y/mcp\n");
    let mut problems = Vec::new();
    load(&[dir.path().to_path_buf()], true, &mut problems);
    assert!(
        problems.iter().any(|p| p.to_string().contains("names must be unique")),
        "{problems:?}"
    );
}

#[test]
fn bedrock_entries_sign_with_aws_keys_in_their_region() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("id"), "AKIDTEST\n").unwrap();
    std::fs::write(dir.path().join("secret"), "s3cret\n").unwrap();
    let text = "llm:\n  provider: bedrock\n  region: eu-west-3\n  models: [\"*\"]\n  aws:\n    access_key_id: ${file:id}\n    secret_access_key: ${file:secret}\n";
    let f = write(dir.path(), "bedrock.yaml", text);
    let mut problems = Vec::new();
    let registry = load(std::slice::from_ref(&f), true, &mut problems);
    assert!(problems.is_empty(), "{problems:?}");
    let provider = &registry.providers[0];
    assert_eq!(provider.url, "https://bedrock-runtime.eu-west-3.amazonaws.com");
    let aws = provider.aws.as_ref().expect("signing keys");
    assert_eq!(
        (aws.region.as_str(), aws.access_key_id.0.as_str()),
        ("eu-west-3", "AKIDTEST")
    );
    assert_eq!(aws.secret_access_key.0, "s3cret");
    assert!(aws.session_token.is_none());
    assert!(
        !format!("{provider:?}").contains("s3cret"),
        "the secret is never printed"
    );
}

#[test]
fn llm_providers_are_read_and_checked() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("openai.key"), "sk-test\n").unwrap();
    let f = write(
        dir.path(),
        "openai.yaml",
        "llm:\n  provider: openai\n  key: ${file:openai.key}\n  models: [gpt-4.1]\ntimeouts:\n  first_byte: 5s\n",
    );
    let mut problems = Vec::new();
    let registry = load(std::slice::from_ref(&f), true, &mut problems);
    assert!(problems.is_empty(), "{problems:?}");
    let provider = &registry.providers[0];
    assert_eq!(
        (provider.name.as_str(), provider.url.as_str()),
        ("openai", "https://api.openai.com/v1")
    );
    assert_eq!(provider.key.as_ref().map(|k| k.0.as_str()), Some("sk-test"));
    assert_eq!(provider.timeouts.first_byte, std::time::Duration::from_secs(5));
    assert!(!format!("{provider:?}").contains("sk-test"), "the key is never printed");

    for (text, expect) in [
        (
            "llm:\n  provider: openai\n  key: sk-live-123\n  models: [a]\n",
            "never written into the config",
        ),
        ("llm:\n  provider: openai-compatible\n  models: [a]\n", "needs `url`"),
        (
            "llm:\n  provider: azure-openai\n  url: https://x\n  models: [a]\n",
            "api_version",
        ),
        ("llm:\n  provider: openai\n  models: []\n", "list the models"),
        ("llm:\n  provider: openai\n  models: [\"*\", a]\n", "[\"*\"] alone"),
        (
            "llm:\n  provider: openai\n  region: eu-west-3\n  models: [a]\n",
            "`llm.region` applies only to bedrock",
        ),
        (
            "llm:\n  provider: bedrock\n  region: eu-west-3\n  key: ${env:PATH}\n  models: [a]\n  aws:\n    access_key_id: ${env:PATH}\n    secret_access_key: ${env:PATH}\n",
            "not both",
        ),
        (
            "llm:\n  provider: bedrock\n  region: eu-west-3\n  models: [a]\n  aws:\n    access_key_id: AKIDLITERAL\n    secret_access_key: ${env:PATH}\n",
            "never written into the config",
        ),
        (
            "llm:\n  provider: openai\n  models: [a]\ntools:\n  exclude: [x]\n",
            "does not apply to LLM providers",
        ),
        (
            "llm:\n  provider: openai\n  models: [a]\n  bogus: 1\n",
            "unknown field `bogus`",
        ),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let f = write(dir.path(), "a.yaml", text);
        let mut problems = Vec::new();
        load(std::slice::from_ref(&f), true, &mut problems);
        assert!(
            problems.iter().any(|p| p.to_string().contains(expect)),
            "{text}: {problems:?}"
        );
    }
}
