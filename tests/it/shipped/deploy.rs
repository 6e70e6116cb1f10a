//! The Kubernetes packaging under deploy/: the Helm chart passes `helm lint`, renders for one
//! and three replicas into objects `kubeconform -strict` accepts, with the properties a
//! cluster operator relies on (non-root, read-only root, probes, PDB, Secret references,
//! no secret value inline), and the generated files (the chart's copy of the alert rules,
//! the plain manifests) match what `deploy/generate` would write.
//!
//! Needs `HELM_BIN`, `KUBECONFORM_BIN` and `KUBECONFORM_SCHEMA_DIR` (exported by `.ci/run`
//! from `.ci/install-k8s-tools`); without them the tool-driven tests are skipped with a note
//! locally and fail under `CI`. The rules-copy test needs no tool.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn chart() -> PathBuf {
    root().join("deploy/helm/lagwatch")
}

/// The tools, or None (with a note) when they are not installed outside CI.
struct Tools {
    helm: String,
    kubeconform: String,
    schemas: String,
}

fn tools(test: &str) -> Option<Tools> {
    let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    match (
        var("HELM_BIN"),
        var("KUBECONFORM_BIN"),
        var("KUBECONFORM_SCHEMA_DIR"),
    ) {
        (Some(helm), Some(kubeconform), Some(schemas)) => Some(Tools {
            helm,
            kubeconform,
            schemas,
        }),
        _ => {
            assert!(
                std::env::var("CI").is_err(),
                "HELM_BIN, KUBECONFORM_BIN or KUBECONFORM_SCHEMA_DIR is not set: run the suite with `bash .ci/run`"
            );
            eprintln!(
                "{test}: skipped: HELM_BIN, KUBECONFORM_BIN and KUBECONFORM_SCHEMA_DIR are not all set (bash .ci/install-k8s-tools prints them)"
            );
            None
        }
    }
}

/// Runs `cmd`, feeding `stdin`; Ok(stdout) on success, Err(stdout + stderr) on failure.
fn run(mut cmd: Command, stdin: &str) -> Result<String, String> {
    use std::io::Write;
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn tool");
    // Written from a thread: a tool that answers before it has read all of its input
    // would otherwise fill the output pipe while this side still writes.
    let mut input = child.stdin.take().expect("stdin");
    let text = stdin.to_owned();
    let writer = std::thread::spawn(move || input.write_all(text.as_bytes()));
    let out = child.wait_with_output().expect("wait tool");
    writer.join().expect("stdin writer").expect("write stdin");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    if out.status.success() {
        Ok(stdout)
    } else {
        Err(format!("{stdout}{}", String::from_utf8_lossy(&out.stderr)))
    }
}

fn helm_template(t: &Tools, values: &Path, extra: &[&str]) -> Result<String, String> {
    let mut cmd = Command::new(&t.helm);
    cmd.arg("template").arg("lagwatch").arg(chart());
    cmd.arg("--values").arg(values).args(extra);
    run(cmd, "")
}

/// `kubeconform -strict` against the vendored schemas. The prometheus-operator kinds have no
/// schema there and are skipped by name, so any other kind without a schema is an error.
fn kubeconform(t: &Tools, manifests: &str) {
    let mut cmd = Command::new(&t.kubeconform);
    cmd.args(["-strict", "-summary", "-output", "text"])
        .arg("-schema-location")
        .arg(format!(
            "{}/{{{{ .ResourceKind }}}}{{{{ .KindSuffix }}}}.json",
            t.schemas
        ))
        .args(["-skip", "ServiceMonitor,PrometheusRule", "-"]);
    match run(cmd, manifests) {
        // Only the two prometheus-operator kinds may go unchecked.
        Ok(out) => assert!(
            out.contains("Invalid: 0, Errors: 0, Skipped: 2")
                || out.contains("Invalid: 0, Errors: 0, Skipped: 0"),
            "{out}"
        ),
        Err(e) => panic!("kubeconform rejected the manifests:\n{e}"),
    }
}

fn objects(manifests: &str) -> Vec<Value> {
    serde_saphyr::from_multiple::<Value>(manifests)
        .expect("rendered manifests parse as YAML")
        .into_iter()
        .filter(|v| !v.is_null())
        .collect()
}

fn kind<'a>(objs: &'a [Value], k: &str) -> Option<&'a Value> {
    objs.iter().find(|o| o["kind"] == k)
}

fn fixture(name: &str) -> PathBuf {
    root().join("tests/fixtures/helm").join(name)
}

/// What every rendering must hold, whatever the replica count.
fn assert_common(objs: &[Value], replicas: u64) {
    let kinds: Vec<&str> = objs.iter().filter_map(|o| o["kind"].as_str()).collect();
    assert!(
        !kinds.contains(&"Secret"),
        "the chart created a Secret: {kinds:?}"
    );
    for k in [
        "ConfigMap",
        "Service",
        "ServiceAccount",
        "Deployment",
        "ServiceMonitor",
    ] {
        assert!(kinds.contains(&k), "{k} missing from {kinds:?}");
    }
    let dep = kind(objs, "Deployment").expect("Deployment");
    assert_eq!(dep["spec"]["replicas"], replicas);
    let pod = &dep["spec"]["template"]["spec"];
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
    assert_eq!(
        pod["securityContext"]["runAsUser"], 10001,
        "the image's user"
    );
    assert_eq!(pod["automountServiceAccountToken"], false);
    let c = &pod["containers"][0];
    let sc = &c["securityContext"];
    assert_eq!(sc["readOnlyRootFilesystem"], true);
    assert_eq!(sc["allowPrivilegeEscalation"], false);
    assert_eq!(sc["capabilities"]["drop"], serde_json::json!(["ALL"]));
    assert_eq!(c["livenessProbe"]["httpGet"]["path"], "/healthz");
    assert_eq!(c["readinessProbe"]["httpGet"]["path"], "/readyz");
    assert_eq!(c["livenessProbe"]["httpGet"]["port"], "http");
    assert_eq!(c["ports"][0]["containerPort"], 9358);
    assert!(
        c["resources"]["limits"]["memory"].is_string(),
        "no memory limit"
    );
    // No secret value inline: every env var comes from a Secret.
    for e in c["env"].as_array().into_iter().flatten() {
        assert!(
            e["valueFrom"]["secretKeyRef"]["name"].is_string() && e.get("value").is_none(),
            "env var not from a Secret: {e}"
        );
    }
    // The state file's directory is writable although the root filesystem is not.
    let cm = kind(objs, "ConfigMap").expect("ConfigMap");
    let text = cm["data"]["lagwatch.yaml"].as_str().expect("config text");
    let cfg: Value = serde_saphyr::from_str(text).expect("config YAML");
    let state_dir = cfg["state_dir"].as_str().expect("state_dir");
    let mounts = c["volumeMounts"].as_array().expect("mounts");
    let state = mounts
        .iter()
        .find(|m| m["mountPath"] == state_dir)
        .expect("state_dir is mounted");
    let vols = pod["volumes"].as_array().expect("volumes");
    let vol = vols
        .iter()
        .find(|v| v["name"] == state["name"])
        .expect("volume");
    assert!(vol["emptyDir"].is_object(), "state volume: {vol}");
    assert_eq!(
        c["args"],
        serde_json::json!(["run", "--config", "/etc/lagwatch/config/lagwatch.yaml"])
    );
    // Secret-looking config values are references, not values.
    let pw = &cfg["clusters"][0]["client"]["sasl.password"];
    assert_eq!(pw, "${KAFKA_PASSWORD}");
    // kubeconform has no schema for the prometheus-operator kinds: check what they point at.
    let sm = kind(objs, "ServiceMonitor").expect("ServiceMonitor");
    assert_eq!(
        sm["spec"]["selector"]["matchLabels"],
        dep["spec"]["selector"]["matchLabels"]
    );
    assert_eq!(sm["spec"]["endpoints"][0]["port"], "http");
    assert_eq!(sm["spec"]["endpoints"][0]["path"], "/metrics");
    let svc = kind(objs, "Service").expect("Service");
    assert_eq!(svc["spec"]["ports"][0]["name"], "http");
    assert_eq!(
        svc["spec"]["selector"],
        dep["spec"]["selector"]["matchLabels"]
    );
    let rule = kind(objs, "PrometheusRule").expect("PrometheusRule");
    let alerts: Value = serde_saphyr::from_str(
        &std::fs::read_to_string(root().join("alerts/lagwatch-rules.yaml")).expect("rules"),
    )
    .expect("rules YAML");
    assert_eq!(
        rule["spec"]["groups"], alerts["groups"],
        "PrometheusRule != alerts/"
    );
}

#[test]
fn chart_rules_are_a_copy_of_alerts() {
    let want = std::fs::read(root().join("alerts/lagwatch-rules.yaml")).expect("alerts");
    let got = std::fs::read(chart().join("files/lagwatch-rules.yaml")).expect("chart copy");
    assert!(
        want == got,
        "deploy/helm/lagwatch/files/lagwatch-rules.yaml differs from alerts/lagwatch-rules.yaml: run deploy/generate"
    );
}

#[test]
fn chart_lints() {
    let Some(t) = tools("chart_lints") else {
        return;
    };
    for values in ["one-replica.yaml", "three-replicas.yaml"] {
        let mut cmd = Command::new(&t.helm);
        cmd.args(["lint", "--strict"])
            .arg(chart())
            .arg("--values")
            .arg(fixture(values));
        if let Err(e) = run(cmd, "") {
            panic!("helm lint with {values}:\n{e}");
        }
    }
}

#[test]
fn one_replica_renders_valid_objects_without_a_pdb() {
    let Some(t) = tools("one_replica") else {
        return;
    };
    let out = helm_template(&t, &fixture("one-replica.yaml"), &[]).expect("helm template");
    kubeconform(&t, &out);
    let objs = objects(&out);
    assert_common(&objs, 1);
    assert!(
        kind(&objs, "PodDisruptionBudget").is_none(),
        "a PDB would block drains"
    );
    let dep = kind(&objs, "Deployment").expect("Deployment");
    assert_eq!(dep["spec"]["strategy"]["type"], "Recreate", "two notifiers");
    let c = &dep["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(c["envFrom"][0]["secretRef"]["name"], "lagwatch-webhooks");
    let env: Vec<(&str, &str)> = c["env"]
        .as_array()
        .expect("env")
        .iter()
        .map(|e| {
            let r = &e["valueFrom"]["secretKeyRef"];
            (
                r["name"].as_str().unwrap_or(""),
                r["key"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        env,
        [
            ("kafka-credentials", "username"),
            ("kafka-credentials", "password")
        ]
    );
    let pod = &dep["spec"]["template"]["spec"];
    let secret_vol = pod["volumes"]
        .as_array()
        .expect("volumes")
        .iter()
        .find(|v| v["secret"]["secretName"] == "pagerduty-key")
        .expect("the routing key's Secret is mounted");
    let mount = c["volumeMounts"]
        .as_array()
        .expect("mounts")
        .iter()
        .find(|m| m["name"] == secret_vol["name"])
        .expect("mount");
    assert_eq!(mount["mountPath"], "/etc/lagwatch/secrets/pagerduty");
    assert_eq!(mount["readOnly"], true);
    // The rendered config is one lagwatch accepts (variables as the Secrets would set them).
    // lagwatch reads *_file secrets at load, so the mounted file is stood in for here.
    let cm = kind(&objs, "ConfigMap").expect("ConfigMap");
    let text = cm["data"]["lagwatch.yaml"].as_str().expect("config");
    let dir = tempfile::tempdir().expect("tempdir");
    let key_file = dir.path().join("routing-key");
    std::fs::write(&key_file, "test-routing-key\n").expect("write key");
    let mounted = "/etc/lagwatch/secrets/pagerduty/routing-key";
    assert!(text.contains(mounted), "{text}");
    let text = text.replace(mounted, &key_file.display().to_string());
    // A URL serves every variable here: webhook URLs must be one, a password may be.
    let env = |k: &str| Some(format!("https://secret.example/{k}"));
    if let Err(e) = lagwatch::config::from_str("configmap", &text, &env) {
        panic!("the chart's config does not validate:\n{e}");
    }
}

#[test]
fn three_replicas_render_valid_objects_with_a_pdb() {
    let Some(t) = tools("three_replicas") else {
        return;
    };
    let out = helm_template(&t, &fixture("three-replicas.yaml"), &[]).expect("helm template");
    kubeconform(&t, &out);
    let objs = objects(&out);
    assert_common(&objs, 3);
    let pdb = kind(&objs, "PodDisruptionBudget").expect("PDB with 3 replicas");
    let dep = kind(&objs, "Deployment").expect("Deployment");
    assert_eq!(
        pdb["spec"]["selector"]["matchLabels"],
        dep["spec"]["selector"]["matchLabels"]
    );
    assert_eq!(pdb["spec"]["minAvailable"], 1);
    assert_eq!(dep["spec"]["strategy"]["type"], "RollingUpdate");
    let c = &dep["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(c["envFrom"][0]["secretRef"]["name"], "lagwatch-secrets");
    // The whole config, `coordination` included, is one lagwatch accepts; JSON is YAML, so
    // the object goes back to lagwatch's reader as JSON.
    let cm = kind(&objs, "ConfigMap").expect("ConfigMap");
    let text = cm["data"]["lagwatch.yaml"].as_str().expect("config");
    let cfg: Value = serde_saphyr::from_str(text).expect("config YAML");
    for key in ["cluster", "group", "state_topic", "shard_clusters"] {
        assert!(
            !cfg["coordination"][key].is_null(),
            "coordination.{key} missing"
        );
    }
    // A URL serves every variable here: webhook URLs must be one, a password may be.
    let env = |k: &str| Some(format!("https://secret.example/{k}"));
    if let Err(e) = lagwatch::config::from_str("configmap", &cfg.to_string(), &env) {
        panic!("the chart's config does not validate:\n{e}");
    }
}

#[test]
fn several_replicas_without_coordination_are_refused() {
    let Some(t) = tools("several_replicas_without_coordination") else {
        return;
    };
    let err = helm_template(
        &t,
        &fixture("one-replica.yaml"),
        &["--set", "replicaCount=2"],
    )
    .expect_err("2 replicas without coordination must not render");
    assert!(err.contains("requires config.coordination"), "{err}");
}

#[test]
fn plain_manifests_are_the_rendered_chart() {
    let Some(t) = tools("plain_manifests") else {
        return;
    };
    let k8s = root().join("deploy/k8s");
    let values = k8s.join("values.yaml");
    let header = "# Generated by deploy/generate from deploy/helm/lagwatch with deploy/k8s/values.yaml: do not edit.\n";
    let core = helm_template(
        &t,
        &values,
        &[
            "--set",
            "serviceMonitor.enabled=false",
            "--set",
            "prometheusRule.enabled=false",
        ],
    )
    .expect("helm template");
    let monitoring = helm_template(
        &t,
        &values,
        &[
            "--show-only",
            "templates/servicemonitor.yaml",
            "--show-only",
            "templates/prometheusrule.yaml",
        ],
    )
    .expect("helm template");
    let want_core = format!("{header}{core}");
    let want_mon = format!(
        "{header}# Needs the prometheus-operator CRDs (monitoring.coreos.com/v1).\n{monitoring}"
    );
    for (file, want) in [
        ("lagwatch.yaml", &want_core),
        ("monitoring.yaml", &want_mon),
    ] {
        let got = std::fs::read_to_string(k8s.join(file)).expect("plain manifest");
        assert!(
            got == *want,
            "deploy/k8s/{file} is not the rendered chart: run deploy/generate"
        );
    }
    kubeconform(&t, &core);
    let objs = objects(&core);
    assert_eq!(
        kind(&objs, "Deployment").expect("Deployment")["spec"]["replicas"],
        1
    );
    // The plain manifests' config is valid as shipped (no variable needed).
    let cm = kind(&objs, "ConfigMap").expect("ConfigMap");
    let text = cm["data"]["lagwatch.yaml"].as_str().expect("config");
    if let Err(e) = lagwatch::config::from_str("deploy/k8s/lagwatch.yaml", text, &|_| None) {
        panic!("deploy/k8s's config does not validate:\n{e}");
    }
}
