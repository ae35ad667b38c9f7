use super::*;

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
    let ups = load(&[dir.path().to_path_buf()], true, &mut problems);
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
