//! Every example config must load: the docs point people at them.

use std::path::Path;

#[test]
fn every_example_config_loads() {
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    let mut loaded = 0;
    for entry in std::fs::read_dir(&examples).unwrap() {
        let config = entry.unwrap().path().join("agentmux.yaml");
        if !config.exists() {
            continue;
        }
        let cfg = match agentmux::config::load(&config) {
            Ok(cfg) => cfg,
            // The LLM example reads its provider keys from the environment, which a test run
            // does not have (tests/e2e/test_examples.py serves it with them): everything else
            // in it must be right.
            Err(e) if config.ends_with("llm/agentmux.yaml") && std::env::var("OPENAI_API_KEY").is_err() => {
                let text = e.to_string();
                let only_keys = e
                    .problems
                    .iter()
                    .map(|p| p.to_string())
                    // An entry whose key is missing is not loaded, so a virtual model over it
                    // names no provider: that follows, and is all that may.
                    .all(|p| p.contains("_API_KEY` is not set") || p.contains("no LLM provider `openai`"));
                assert!(only_keys, "{}: {text}", config.display());
                loaded += 1;
                continue;
            }
            Err(e) => panic!("{}: {e}", config.display()),
        };
        assert!(
            !cfg.upstreams.is_empty() || !cfg.agents.is_empty() || !cfg.providers.is_empty(),
            "{} has no upstreams, agents or LLM providers",
            config.display()
        );
        loaded += 1;
    }
    assert!(loaded >= 3, "expected at least 3 example configs, found {loaded}");
}

#[test]
fn ide_config_is_read_as_is() {
    let config = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/ide-config/agentmux.yaml");
    let cfg = agentmux::config::load(&config).unwrap();
    let names: Vec<&str> = cfg.upstreams.iter().map(|u| u.name.as_str()).collect();
    assert_eq!(names, ["everything", "docs-search"]);
}
