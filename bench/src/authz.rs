//! The cost of authorization decisions, measured in-process on agentmux's own engine: one
//! `tools/call` decision with 50 policies, and filtering a 5,000-tool list for one caller.

use std::sync::Arc;
use std::time::Instant;

use agentmux::authz::{Action, Args, Ask, Attrs, Caller, Gate, Target, ToolHints};
use agentmux::authz::{Arguments, Authz};
use agentmux::identity::{Principal, PrincipalKind};

/// 50 policies of the shapes the policy guide teaches: per group and upstream, argument limits,
/// read-only defaults, forbids; the one that matters for the measured call is among them.
pub fn policies(n: usize) -> String {
    let mut text = String::from(
        "@id(\"payments-refund\")\npermit (principal in Group::\"payments\", action == Action::\"call_tool\", resource == Tool::\"u7/refund\") when { context.arguments has amount && context.arguments.amount <= 100 };\n",
    );
    for i in 1..n {
        text.push_str(&match i % 4 {
            0 => format!("permit (principal in Group::\"team{i}\", action == Action::\"call_tool\", resource in Upstream::\"u{i}\");\n"),
            1 => format!("permit (principal in Group::\"g{i}\", action == Action::\"call_tool\", resource) when {{ resource is Tool && resource.read_only && resource.upstream == \"u{i}\" }};\n"),
            2 => format!("forbid (principal in Group::\"blocked{i}\", action, resource in Upstream::\"u{}\");\n", i % 50),
            _ => format!("permit (principal, action == Action::\"call_tool\", resource == Tool::\"u{i}/tool_{i}\") when {{ principal in Group::\"g{i}\" && context.arguments has amount && context.arguments.amount < {i} }};\n"),
        });
    }
    text
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

pub fn run(n_policies: usize, n_tools: usize) -> anyhow::Result<()> {
    measure(n_policies, n_tools, false)?;
    measure(n_policies, n_tools, true)
}

/// `broad`: one of the policies applies to every tool (`permit … resource) when { resource.read_only }`
/// for a group the caller is in), so every tool of the list is evaluated; otherwise only the
/// tools some policy names can be shown, and the rest are hidden without evaluation.
fn measure(n_policies: usize, n_tools: usize, broad: bool) -> anyhow::Result<()> {
    let dir = std::env::temp_dir().join(format!("agentmux-bench-authz-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let mut text = policies(n_policies);
    if broad {
        // Replaces the last policy, so the count stays the same.
        text = text.lines().take(n_policies).collect::<Vec<_>>().join("\n");
        text.push_str("\npermit (principal in Group::\"eng\", action == Action::\"call_tool\", resource) when { resource.read_only };\n");
    }
    std::fs::write(dir.join("bench.cedar"), text)?;
    let schema = serde_json::json!({"type": "object", "properties": {"amount": {"type": "integer"}, "currency": {"type": "string"}}});
    let authz = Authz::load_now(&dir, Vec::new(), Arguments::from_input_schemas([&schema]))
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let _ = std::fs::remove_dir_all(&dir);
    let caller = Caller {
        principal: Arc::new(Principal {
            fingerprint: Default::default(),
            kind: PrincipalKind::User,
            id: "alice".into(),
            issuer: Some("https://idp.example.com".into()),
            groups: vec!["payments".into(), "eng".into()],
            scopes: vec!["mcp".into()],
            claims: serde_json::Map::new(),
        }),
        endpoint: "/mcp".into(),
        version: "2025-11-25",
        client_ip: Some("10.1.2.3".parse()?),
    };
    let args = serde_json::value::RawValue::from_string(r#"{"amount":50,"currency":"EUR"}"#.into())?;
    let target = Target {
        action: Action::CallTool,
        upstream: "u7",
        name: "refund",
        attrs: Attrs::Tool(ToolHints::default()),
    };
    // What the tool declares: each call is validated against it and typed by it.
    let schema = serde_json::value::RawValue::from_string(
        r#"{"type":"object","properties":{"amount":{"type":"integer"},"currency":{"type":"string"}},"required":["amount"]}"#
            .into(),
    )?;
    let declared = agentmux::arguments::Declared::of(&schema);
    let value = agentmux::arguments::parse(Some(&args)).map_err(anyhow::Error::msg)?;
    let ask = Ask {
        method: None,
        llm: None,
        caller: &caller,
        target,
        arguments: Some(Args {
            raw: Some(&args),
            value: &value,
            declared: Some(&declared),
        }),
    };
    assert!(
        authz.decide(&ask).is_ok_and(|v| v.allowed),
        "the measured call must be allowed"
    );
    // One call as the hub handles it: parse, validate against the declaration, decide.
    let call = |args: &serde_json::value::RawValue| {
        let value = agentmux::arguments::parse(Some(args)).ok()?;
        declared.check(&value).ok()?;
        let ask = Ask {
            arguments: Some(Args {
                raw: Some(args),
                value: &value,
                declared: Some(&declared),
            }),
            ..ask
        };
        authz.decide(&ask).ok()
    };
    // Evaluated: every sample has other arguments, so no decision is remembered.
    let distinct: Vec<Box<serde_json::value::RawValue>> = (0..21_000)
        .map(|i| {
            serde_json::value::RawValue::from_string(format!(
                r#"{{"amount":{},"currency":"EUR"}}"#,
                i % 100 + i / 100 * 1000
            ))
        })
        .collect::<Result<_, _>>()?;
    let mut samples = Vec::with_capacity(20_000);
    for (i, args) in distinct.iter().enumerate() {
        let t = Instant::now();
        std::hint::black_box(call(std::hint::black_box(args)));
        if i >= 1_000 {
            samples.push(t.elapsed().as_secs_f64() * 1e6);
        }
    }
    // Cedar alone, no memo: what a decision costs when nothing is remembered or looked up.
    let mut bare = Vec::with_capacity(20_000);
    let values: Vec<serde_json::Value> = distinct
        .iter()
        .skip(1_000)
        .map(|a| agentmux::arguments::parse(Some(a)).map_err(anyhow::Error::msg))
        .collect::<Result<_, _>>()?;
    for (args, value) in distinct.iter().skip(1_000).zip(&values) {
        let ask = Ask {
            arguments: Some(Args {
                raw: Some(args),
                value,
                declared: Some(&declared),
            }),
            ..ask
        };
        let t = Instant::now();
        std::hint::black_box(authz.evaluate(std::hint::black_box(&ask), None).ok());
        bare.push(t.elapsed().as_secs_f64() * 1e6);
    }
    bare.sort_by(f64::total_cmp);
    // Remembered: the same call again.
    let mut again = Vec::with_capacity(20_000);
    for _ in 0..20_000 {
        let t = Instant::now();
        std::hint::black_box(call(std::hint::black_box(&args)));
        again.push(t.elapsed().as_secs_f64() * 1e6);
    }
    again.sort_by(f64::total_cmp);
    samples.sort_by(f64::total_cmp);
    let kind = if broad {
        "one policy applies to every tool"
    } else {
        "policies name their tools or upstreams"
    };
    println!("## Authorization decisions ({n_policies} policies, {kind}; in-process)\n");
    println!(
        "One `tools/call` decision (arguments parsed and validated against the tool's `inputSchema`, entities, context with 2 typed arguments, Cedar evaluation), 20,000 samples with distinct arguments after 1,000 warm-up: p50 {:.1} µs, p99 {:.1} µs (evaluation alone, without the memo: p50 {:.1} µs). The same call again (a remembered decision): p50 {:.1} µs, p99 {:.1} µs.\n",
        percentile(&samples, 0.5),
        percentile(&samples, 0.99),
        percentile(&bare, 0.5),
        percentile(&again, 0.5),
        percentile(&again, 0.99)
    );

    let names: Vec<String> = (0..n_tools).map(|i| format!("tool_{i}")).collect();
    let upstreams: Vec<String> = (0..50).map(|i| format!("u{i}")).collect();
    let targets: Vec<Target<'_>> = names
        .iter()
        .enumerate()
        .map(|(i, name)| Target {
            action: Action::CallTool,
            upstream: &upstreams[i % 50],
            name,
            attrs: Attrs::Tool(ToolHints {
                read_only: i % 3 == 0,
                ..ToolHints::default()
            }),
        })
        .collect();
    let mut runs = Vec::new();
    let mut shown = 0;
    for _ in 0..5 {
        let t = Instant::now();
        shown = authz.visible(&caller, &targets).iter().filter(|v| **v).count();
        runs.push(t.elapsed().as_secs_f64() * 1e3);
    }
    runs.sort_by(f64::total_cmp);
    println!(
        "Filtering a {n_tools}-tool list for one caller (partial evaluation, arguments unknown; uncached): median of 5 runs {:.1} ms (min {:.1}, max {:.1}); {shown} tools visible. agentmux caches the result per caller and catalog for 10 s.\n",
        runs[2], runs[0], runs[4]
    );
    Ok(())
}
