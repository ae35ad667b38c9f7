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
        let cfg = agentmux::config::load(&config).unwrap_or_else(|e| panic!("{}: {e}", config.display()));
        assert!(
            !cfg.upstreams.is_empty() || !cfg.agents.is_empty(),
            "{} has no upstreams or agents",
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
