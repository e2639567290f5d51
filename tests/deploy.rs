//! The deployment files against the real program. Every kustomization under `deploy/` (the
//! one-merchant base and each merchant's overlay) is built, and each CronJob in it is checked:
//! its command line goes through the real command-line parser, its config file (from the
//! ConfigMap it mounts) goes through the real binary with the Secret's variables set to dummy
//! values, every environment variable it sets is one the program reads, and the schedule, time
//! zone, `concurrencyPolicy: Forbid`, retries and security settings are there. The systemd
//! units under `cron/` go through the same parser. See docs/DEPLOY.md.
//!
//! The overlays are built by a small model of kustomize (resources, a namespace,
//! configMapGenerator from files, strategic-merge patches from files); a kustomization using
//! anything else fails here until the model learns it. When `kubectl` is installed, its own
//! `kubectl kustomize` output is checked the same way and compared with the model's.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command as Process;

use clap::{CommandFactory, Parser};
use flexiti_recon::cli::{Cli, Command};
use flexiti_recon::config::FileConfig;
use serde::Deserialize;
use serde_yaml_ng::{Mapping, Value};

const BIN: &str = env!("CARGO_BIN_EXE_flexiti-recon");

/// The repository's root: the first folder above the package that holds `deploy/`.
fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .find(|dir| dir.join("deploy/base/kustomization.yaml").is_file())
        .expect("no deploy/base/kustomization.yaml above the package")
        .to_path_buf()
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn yaml_docs(path: &Path) -> Vec<Value> {
    let text = read(path);
    serde_yaml_ng::Deserializer::from_str(&text)
        .map(|doc| Value::deserialize(doc).unwrap_or_else(|e| panic!("{}: {e}", path.display())))
        .filter(|doc| !doc.is_null())
        .collect()
}

fn text<'a>(value: &'a Value, key: &str) -> Option<&'a str> {
    value.get(key).and_then(Value::as_str)
}

fn items(value: Option<&Value>) -> &[Value] {
    value
        .and_then(Value::as_sequence)
        .map_or(&[], Vec::as_slice)
}

fn kind_and_name(doc: &Value) -> (String, String) {
    let name = doc.get("metadata").and_then(|m| text(m, "name"));
    (
        text(doc, "kind").unwrap_or_default().to_string(),
        name.unwrap_or_default().to_string(),
    )
}

// ---------------------------------------------------------------------------------------------
// A model of the part of kustomize the deployment files use.

const MODELLED: [&str; 6] = [
    "apiVersion",
    "kind",
    "resources",
    "namespace",
    "configMapGenerator",
    "patches",
];

fn kustomize(dir: &Path) -> Vec<Value> {
    let path = dir.join("kustomization.yaml");
    let spec = yaml_docs(&path).remove(0);
    for key in spec.as_mapping().expect("a mapping").keys() {
        let key = key.as_str().unwrap_or_default();
        assert!(
            MODELLED.contains(&key),
            "{}: `{key}` is not modelled by tests/deploy.rs: teach the model or drop the key",
            path.display()
        );
    }
    let mut docs = Vec::new();
    for resource in items(spec.get("resources")) {
        let target = dir.join(resource.as_str().expect("a resource path"));
        if target.is_dir() {
            docs.extend(kustomize(&target));
        } else {
            docs.extend(yaml_docs(&target));
        }
    }
    for generator in items(spec.get("configMapGenerator")) {
        generate_config_map(dir, generator, &mut docs);
    }
    for patch in items(spec.get("patches")) {
        let file = text(patch, "path").expect("only `patches: - path: FILE` is modelled");
        for change in yaml_docs(&dir.join(file)) {
            let wanted = kind_and_name(&change);
            let target = docs
                .iter_mut()
                .find(|doc| kind_and_name(doc) == wanted)
                .unwrap_or_else(|| panic!("{file}: no {wanted:?} to patch"));
            merge(target, &change);
        }
    }
    if let Some(namespace) = text(&spec, "namespace") {
        for doc in docs
            .iter_mut()
            .filter(|d| text(d, "kind") != Some("Namespace"))
        {
            if let Some(Value::Mapping(meta)) = doc.get_mut("metadata") {
                meta.insert("namespace".into(), namespace.into());
            }
        }
    }
    docs
}

fn generate_config_map(dir: &Path, generator: &Value, docs: &mut Vec<Value>) {
    for key in generator.as_mapping().expect("a generator").keys() {
        let key = key.as_str().unwrap_or_default();
        assert!(
            ["name", "behavior", "files"].contains(&key),
            "configMapGenerator `{key}` is not modelled by tests/deploy.rs"
        );
    }
    let name = text(generator, "name").expect("a generator name");
    let mut data = Mapping::new();
    for file in items(generator.get("files")) {
        let file = file.as_str().expect("a file name");
        let (key, source) = file.split_once('=').unwrap_or_else(|| {
            let key = Path::new(file).file_name().and_then(|n| n.to_str());
            (key.expect("a file name"), file)
        });
        data.insert(key.into(), read(&dir.join(source)).into());
    }
    let existing = docs
        .iter_mut()
        .find(|d| kind_and_name(d) == ("ConfigMap".to_string(), name.to_string()));
    match (text(generator, "behavior").unwrap_or("create"), existing) {
        ("create", None) => {
            let map = format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n");
            let mut map: Value = serde_yaml_ng::from_str(&map).expect("a ConfigMap");
            if let Value::Mapping(m) = &mut map {
                m.insert("data".into(), Value::Mapping(data));
            }
            docs.push(map);
        }
        ("replace", Some(map)) => {
            if let Value::Mapping(m) = map {
                m.insert("data".into(), Value::Mapping(data));
            }
        }
        ("merge", Some(map)) => merge(
            map,
            &Value::Mapping(Mapping::from_iter([("data".into(), Value::Mapping(data))])),
        ),
        (behavior, found) => panic!(
            "configMapGenerator {name}: behavior {behavior} with {} existing map",
            if found.is_some() { "an" } else { "no" }
        ),
    }
}

/// A strategic merge patch as far as these files need it: mappings merge, `null` deletes, lists
/// of named items (containers, env, volumes) merge by name, other lists are replaced.
fn merge(base: &mut Value, patch: &Value) {
    let named = |list: &[Value]| list.iter().all(|item| text(item, "name").is_some());
    match (base, patch) {
        (Value::Mapping(base), Value::Mapping(patch)) => {
            for (key, value) in patch {
                match base.get_mut(key) {
                    _ if value.is_null() => {
                        base.remove(key);
                    }
                    Some(old) => merge(old, value),
                    None => {
                        base.insert(key.clone(), value.clone());
                    }
                }
            }
        }
        (Value::Sequence(base), Value::Sequence(patch)) if named(base) && named(patch) => {
            for item in patch {
                match base
                    .iter_mut()
                    .find(|b| text(b, "name") == text(item, "name"))
                {
                    Some(old) => merge(old, item),
                    None => base.push(item.clone()),
                }
            }
        }
        (base, patch) => *base = patch.clone(),
    }
}

// ---------------------------------------------------------------------------------------------
// What the program reads, found from the program itself.

/// Every environment variable the program reads: the parser's `env = …` names, every
/// `"FLEXITI_…"` string literal in the program's sources outside its unit tests, and the
/// `_FILE` form of each secret read through `secret_from_env`.
fn program_env_names(root: &Path) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    fn walk(cmd: &clap::Command, names: &mut BTreeSet<String>) {
        for arg in cmd.get_arguments() {
            if let Some(env) = arg.get_env().and_then(|e| e.to_str()) {
                names.insert(env.to_string());
            }
        }
        for sub in cmd.get_subcommands() {
            walk(sub, names);
        }
    }
    walk(&Cli::command(), &mut names);
    let mut sources = Vec::new();
    for top in ["src", "crates"] {
        rust_sources(&root.join(top), &mut sources);
    }
    assert!(!sources.is_empty(), "no program sources under {root:?}");
    for file in sources {
        let code = read(&file);
        for (i, _) in code.match_indices("\"FLEXITI_") {
            let literal: String = code[i + 1..]
                .chars()
                .take_while(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || *c == '_')
                .collect();
            if code[i + 1 + literal.len()..].starts_with('"') {
                names.insert(literal);
            }
        }
        for (i, call) in code.match_indices("secret_from_env(\"") {
            let rest = &code[i + call.len()..];
            if let Some(end) = rest.find('"') {
                names.insert(format!("{}_FILE", &rest[..end]));
            }
        }
    }
    names
}

fn rust_sources(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().to_string();
        if path.is_dir() {
            if !["tests", "target", "benches"].contains(&name.as_str()) {
                rust_sources(&path, out);
            }
        } else if name.ends_with(".rs") && name != "tests.rs" && !name.starts_with("tests_") {
            out.push(path);
        }
    }
}

/// The image's entry point and user, from the last stage of deploy/Containerfile.
struct Image {
    entrypoint: String,
    user: Option<i64>,
}

fn image(root: &Path) -> Image {
    let text = read(&root.join("deploy/Containerfile"));
    let last_stage = text.rsplit("\nFROM ").next().expect("a FROM line");
    let entrypoint = last_stage
        .lines()
        .find_map(|line| line.strip_prefix("ENTRYPOINT "))
        .expect("an ENTRYPOINT in the last stage");
    let entrypoint: Vec<String> = serde_json::from_str(entrypoint).expect("ENTRYPOINT [\"…\"]");
    let user = last_stage
        .lines()
        .find_map(|line| line.strip_prefix("USER "))
        .and_then(|user| user.trim().split(':').next()?.parse().ok());
    Image {
        entrypoint: entrypoint.first().cloned().expect("an entry point"),
        user,
    }
}

/// The keys of the Secret the manifests read (documented in deploy/base/secret.example.yaml).
fn secret_keys(root: &Path) -> BTreeSet<String> {
    let secret = yaml_docs(&root.join("deploy/base/secret.example.yaml")).remove(0);
    let data = secret.get("stringData").and_then(Value::as_mapping);
    data.expect("stringData")
        .keys()
        .filter_map(|k| k.as_str().map(str::to_string))
        .collect()
}

struct Known {
    env: BTreeSet<String>,
    secret_keys: BTreeSet<String>,
    image: Image,
}

fn known(root: &Path) -> Known {
    Known {
        env: program_env_names(root),
        secret_keys: secret_keys(root),
        image: image(root),
    }
}

// ---------------------------------------------------------------------------------------------
// The checks. Each returns the problems it found, so that the mutation test below can show that
// a broken manifest is caught.

/// One variable of a container: a literal value, or a key of the Secret.
enum EnvValue {
    Literal(String),
    Secret(String),
}

/// Checks every CronJob of a built kustomization; returns the problems and the merchants named
/// by their configs.
fn check_build(docs: &[Value], known: &Known) -> (Vec<String>, BTreeSet<String>) {
    let mut problems = Vec::new();
    let mut merchants = BTreeSet::new();
    let cronjobs: Vec<&Value> = docs
        .iter()
        .filter(|d| text(d, "kind") == Some("CronJob"))
        .collect();
    if !cronjobs.iter().any(|cj| {
        let containers = cj.get("spec").and_then(|s| pod_spec(s)?.get("containers"));
        items(containers).iter().any(|c| {
            items(c.get("args"))
                .iter()
                .any(|a| a.as_str() == Some("run"))
        })
    }) {
        problems.push("no CronJob runs `run`".to_string());
    }
    for cronjob in cronjobs {
        let name = kind_and_name(cronjob).1;
        let mut found = Vec::new();
        if let Some(merchant) = check_cronjob(cronjob, docs, known, &mut found) {
            merchants.insert(merchant);
        }
        problems.extend(found.into_iter().map(|p| format!("CronJob {name}: {p}")));
    }
    (problems, merchants)
}

fn pod_spec(cronjob_spec: &Value) -> Option<&Value> {
    cronjob_spec
        .get("jobTemplate")?
        .get("spec")?
        .get("template")?
        .get("spec")
}

fn check_cronjob(
    cronjob: &Value,
    docs: &[Value],
    known: &Known,
    problems: &mut Vec<String>,
) -> Option<String> {
    let spec = cronjob.get("spec")?;
    let schedule = text(spec, "schedule").unwrap_or_default();
    if schedule.split_whitespace().count() != 5 {
        problems.push(format!("schedule '{schedule}' is not five cron fields"));
    }
    let zone = text(spec, "timeZone");
    if zone.and_then(|z| z.parse::<chrono_tz::Tz>().ok()).is_none() {
        problems.push(format!("timeZone {zone:?} is not an IANA time zone"));
    }
    if text(spec, "concurrencyPolicy") != Some("Forbid") {
        problems.push("concurrencyPolicy is not Forbid".to_string());
    }
    if spec.get("startingDeadlineSeconds").and_then(Value::as_i64) <= Some(0) {
        problems.push("no startingDeadlineSeconds".to_string());
    }
    let job = spec.get("jobTemplate").and_then(|t| t.get("spec"));
    let job = job.unwrap_or(&Value::Null);
    if job.get("backoffLimit").and_then(Value::as_i64).is_none() {
        problems.push("no backoffLimit".to_string());
    }
    if job.get("activeDeadlineSeconds").and_then(Value::as_i64) <= Some(0) {
        problems.push("no activeDeadlineSeconds".to_string());
    }
    let rules = items(job.get("podFailurePolicy").and_then(|p| p.get("rules")));
    let fails_job_on = |code: i64| {
        rules.iter().any(|rule| {
            let codes = rule.get("onExitCodes");
            text(rule, "action") == Some("FailJob")
                && codes.and_then(|c| text(c, "operator")) == Some("In")
                && items(codes.and_then(|c| c.get("values")))
                    .iter()
                    .any(|v| v.as_i64() == Some(code))
        })
    };
    if !fails_job_on(2) {
        problems.push("exit 2 (configuration) does not fail the Job at once".to_string());
    }
    let pod = pod_spec(spec).unwrap_or(&Value::Null);
    if text(pod, "restartPolicy") != Some("Never") {
        problems.push("restartPolicy is not Never (podFailurePolicy needs it)".to_string());
    }
    let pod_security = pod.get("securityContext").unwrap_or(&Value::Null);
    if pod_security.get("runAsNonRoot").and_then(Value::as_bool) != Some(true) {
        problems.push("runAsNonRoot is not true".to_string());
    }
    let uid = pod_security.get("runAsUser").and_then(Value::as_i64);
    if known.image.user.is_some() && uid.is_some() && uid != known.image.user {
        problems.push(format!("runAsUser {uid:?} is not the image's user"));
    }
    let containers = items(pod.get("containers"));
    if containers.len() != 1 {
        problems.push(format!("{} containers, expected 1", containers.len()));
    }
    let mut merchant = None;
    for container in containers {
        merchant = check_container(container, pod, docs, zone, known, problems);
    }
    merchant
}

fn check_container(
    container: &Value,
    pod: &Value,
    docs: &[Value],
    zone: Option<&str>,
    known: &Known,
    problems: &mut Vec<String>,
) -> Option<String> {
    let security = container.get("securityContext").unwrap_or(&Value::Null);
    if security
        .get("readOnlyRootFilesystem")
        .and_then(Value::as_bool)
        != Some(true)
    {
        problems.push("readOnlyRootFilesystem is not true".to_string());
    }
    if security
        .get("allowPrivilegeEscalation")
        .and_then(Value::as_bool)
        != Some(false)
    {
        problems.push("allowPrivilegeEscalation is not false".to_string());
    }
    let mut strings = |key: &str| -> Vec<String> {
        let mut out = Vec::new();
        for value in items(container.get(key)) {
            match value.as_str() {
                Some(s) => out.push(s.to_string()),
                None => problems.push(format!("{key}: {value:?} is not a string")),
            }
        }
        out
    };
    let command = strings("command");
    let args = strings("args");
    if command.first() != Some(&known.image.entrypoint) {
        problems.push(format!(
            "command {command:?} does not start with the image's entry point {}",
            known.image.entrypoint
        ));
    }
    let argv: Vec<String> = std::iter::once("flexiti-recon".to_string())
        .chain(command.into_iter().skip(1))
        .chain(args)
        .collect();
    let cli = match Cli::try_parse_from(&argv) {
        Ok(cli) => cli,
        Err(e) => {
            problems.push(format!("{argv:?} does not parse: {}", e.render()));
            return None;
        }
    };

    let mut env = Vec::new();
    if container.get("envFrom").is_some() {
        problems.push("envFrom hides which variables are set: name each one".to_string());
    }
    for var in items(container.get("env")) {
        let name = text(var, "name").unwrap_or_default().to_string();
        if !known.env.contains(&name) {
            problems.push(format!("env {name}: the program reads no such variable"));
        }
        let secret = var.get("valueFrom").and_then(|v| v.get("secretKeyRef"));
        let value = match (text(var, "value"), secret.and_then(|s| text(s, "key"))) {
            (Some(value), None) => EnvValue::Literal(value.to_string()),
            (None, Some(key)) => {
                if !known.secret_keys.contains(key) {
                    problems.push(format!("env {name}: the Secret has no key {key}"));
                }
                EnvValue::Secret(key.to_string())
            }
            _ => {
                problems.push(format!("env {name}: neither a value nor a secretKeyRef"));
                continue;
            }
        };
        env.push((name, value));
    }

    let from_env = env.iter().find_map(|(name, value)| match value {
        EnvValue::Literal(v) if name == "FLEXITI_RECON_CONFIG" => Some(PathBuf::from(v)),
        _ => None,
    });
    let (config_path, is_run) = match &cli.command {
        Command::Run(a) => (a.config.config.clone(), true),
        Command::Export(a) => (a.config.config.clone(), false),
        Command::Runs { config, .. }
        | Command::Discrepancies { config, .. }
        | Command::Status { config, .. }
        | Command::Migrate(config)
        | Command::Check(config) => (config.config.clone(), false),
        Command::Sandbox { .. } | Command::Demo { .. } => (None, false),
    };
    let Some(config_path) = config_path.or(from_env) else {
        problems.push("the command names no --config".to_string());
        return None;
    };
    let (config_map, file_name) = match mounted_config(&config_path, container, pod, docs) {
        Ok(found) => found,
        Err(problem) => {
            problems.push(problem);
            return None;
        }
    };
    // The real program first: it knows every key and every variable's rule.
    if let Err(problem) = binary_config_check(config_map, &file_name, &env) {
        problems.push(problem);
    }
    let config_text = text(config_map, &file_name).unwrap_or_default();
    let Ok(file) = toml::from_str::<FileConfig>(config_text) else {
        return None;
    };
    if zone != Some(file.time_zone.as_str()) {
        problems.push(format!(
            "timeZone {zone:?} is not the config's time_zone {}",
            file.time_zone
        ));
    }
    if is_run {
        check_paths(&file, container, problems);
    }
    Some(file.merchant)
}

/// The ConfigMap's data and the key that the config path names, if the path lies in a
/// read-only mount of a ConfigMap volume.
fn mounted_config<'a>(
    config_path: &Path,
    container: &Value,
    pod: &Value,
    docs: &'a [Value],
) -> Result<(&'a Value, String), String> {
    let shown = config_path.display();
    let folder = config_path.parent().and_then(Path::to_str).unwrap_or("");
    let file_name = config_path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("");
    let mount = items(container.get("volumeMounts"))
        .iter()
        .find(|m| text(m, "mountPath").map(|p| p.trim_end_matches('/')) == Some(folder))
        .ok_or_else(|| format!("--config {shown}: no volume is mounted at {folder}"))?;
    if mount.get("readOnly").and_then(Value::as_bool) != Some(true) {
        return Err(format!("the config mount {folder} is not readOnly"));
    }
    let volume = items(pod.get("volumes"))
        .iter()
        .find(|v| text(v, "name") == text(mount, "name"))
        .ok_or_else(|| format!("the config mount {folder} has no volume"))?;
    let map_name = volume.get("configMap").and_then(|c| text(c, "name"));
    let map_name = map_name.ok_or_else(|| format!("the volume at {folder} is not a ConfigMap"))?;
    let data = docs
        .iter()
        .find(|d| kind_and_name(d) == ("ConfigMap".to_string(), map_name.to_string()))
        .and_then(|d| d.get("data"))
        .ok_or_else(|| format!("ConfigMap {map_name} is not in the build"))?;
    if text(data, file_name).is_none() {
        return Err(format!("ConfigMap {map_name} has no key {file_name}"));
    }
    Ok((data, file_name.to_string()))
}

/// The root filesystem is read-only: the data folder must be a writable mount, the ledger
/// files' folders mounts.
fn check_paths(file: &FileConfig, container: &Value, problems: &mut Vec<String>) {
    let mounts: Vec<(PathBuf, bool)> = items(container.get("volumeMounts"))
        .iter()
        .filter_map(|m| {
            let read_only = m.get("readOnly").and_then(Value::as_bool) == Some(true);
            Some((PathBuf::from(text(m, "mountPath")?), !read_only))
        })
        .collect();
    let under = |path: &Path, writable: bool| {
        mounts
            .iter()
            .any(|(mount, w)| path.starts_with(mount) && (*w || !writable))
    };
    if !under(&file.data_dir, true) {
        problems.push(format!(
            "data_dir {} is not on a writable mount",
            file.data_dir.display()
        ));
    }
    for pattern in &file.ledger.files {
        if !under(Path::new(pattern), false) {
            problems.push(format!("ledger file {pattern} is not on a mount"));
        }
    }
}

/// Runs the real binary on the ConfigMap's files with the manifest's variables, the Secret's
/// set to dummy values (the database a SQLite file in a temporary folder): `migrate` loads and
/// checks the config exactly as a run does, then opens the database the variables name.
fn binary_config_check(
    config_map: &Value,
    file_name: &str,
    env: &[(String, EnvValue)],
) -> Result<(), String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let etc = dir.path().join("etc");
    std::fs::create_dir_all(&etc).map_err(|e| e.to_string())?;
    for (key, value) in config_map.as_mapping().into_iter().flatten() {
        if let (Some(key), Some(value)) = (key.as_str(), value.as_str()) {
            std::fs::write(etc.join(key), value).map_err(|e| e.to_string())?;
        }
    }
    let database = dir.path().join("recon.db");
    let mut process = Process::new(BIN);
    process
        .env_clear()
        .arg("migrate")
        .arg("--config")
        .arg(etc.join(file_name))
        // The pod's data folder is a mount; here a temporary one.
        .env("FLEXITI_DATA_DIR", dir.path().join("data"));
    for (name, value) in env {
        match value {
            EnvValue::Literal(v) => process.env(name, v),
            EnvValue::Secret(_) if name == "FLEXITI_DATABASE_URL" => {
                process.env(name, format!("sqlite://{}", database.display()))
            }
            EnvValue::Secret(key) => process.env(name, format!("dummy-{key}")),
        };
    }
    let out = process.output().map_err(|e| format!("{BIN}: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "the binary refuses the config ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    let sets_url = env.iter().any(|(n, _)| n == "FLEXITI_DATABASE_URL");
    if sets_url && !database.exists() {
        return Err("FLEXITI_DATABASE_URL was set but the database is not where it names".into());
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------

fn kustomizations(root: &Path) -> Vec<PathBuf> {
    let mut dirs = vec![root.join("deploy/base")];
    let mut merchants: Vec<PathBuf> = std::fs::read_dir(root.join("deploy/merchants"))
        .expect("deploy/merchants")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.join("kustomization.yaml").is_file())
        .collect();
    merchants.sort();
    assert!(!merchants.is_empty(), "no overlay under deploy/merchants");
    dirs.extend(merchants);
    dirs
}

#[test]
fn every_cronjob_runs_the_real_program_with_a_config_it_accepts() {
    let root = repo_root();
    let known = known(&root);
    for name in [
        "FLEXITI_CLIENT_SECRET",
        "FLEXITI_DATABASE_URL",
        "FLEXITI_RECON_CONFIG",
    ] {
        assert!(
            known.env.contains(name),
            "the scan missed {name}: {known:?}",
            known = known.env
        );
    }
    let mut merchants_seen = BTreeSet::new();
    let mut all = Vec::new();
    for dir in kustomizations(&root) {
        let (problems, merchants) = check_build(&kustomize(&dir), &known);
        all.extend(
            problems
                .into_iter()
                .map(|p| format!("{}: {p}", dir.display())),
        );
        if dir.parent().and_then(Path::file_name) == Some("merchants".as_ref()) {
            for merchant in merchants {
                // The merchant is the tenant in the shared database: two overlays with the same
                // one would share their history and their lock.
                if !merchants_seen.insert(merchant.clone()) {
                    all.push(format!("{}: merchant {merchant} again", dir.display()));
                }
            }
        }
    }
    assert!(all.is_empty(), "{}", all.join("\n"));
}

/// `kubectl kustomize` (when installed) builds what the model builds, and passes the same checks.
#[test]
fn kubectl_builds_what_the_model_builds() {
    let root = repo_root();
    let known = known(&root);
    for dir in kustomizations(&root) {
        let out = match Process::new("kubectl").arg("kustomize").arg(&dir).output() {
            Ok(out) => out,
            Err(e) => {
                eprintln!("kubectl not run ({e}): the model alone is checked");
                return;
            }
        };
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let built = String::from_utf8_lossy(&out.stdout);
        let real: Vec<Value> = serde_yaml_ng::Deserializer::from_str(&built)
            .map(|doc| Value::deserialize(doc).expect("kubectl's YAML"))
            .collect();
        let (problems, _) = check_build(&real, &known);
        assert!(
            problems.is_empty(),
            "{}: {}",
            dir.display(),
            problems.join("\n")
        );
        // Equal CronJobs once the generated ConfigMap's hash suffix is taken off its name.
        let unhashed = |docs: &[Value]| -> Vec<String> {
            let mut jobs: Vec<String> = docs
                .iter()
                .filter(|d| text(d, "kind") == Some("CronJob"))
                .map(|d| serde_yaml_ng::to_string(d).expect("YAML"))
                .map(|y| {
                    y.lines()
                        .map(|l| match l.split_once("name: flexiti-recon-config-") {
                            Some((head, _)) => format!("{head}name: flexiti-recon-config"),
                            None => l.to_string(),
                        })
                        .collect::<Vec<_>>()
                        .join("\n")
                })
                .collect();
            jobs.sort();
            jobs
        };
        let model = kustomize(&dir);
        let as_values = |jobs: Vec<String>| -> Vec<Value> {
            jobs.iter()
                .map(|j| serde_yaml_ng::from_str(j).expect("YAML"))
                .collect()
        };
        assert_eq!(
            as_values(unhashed(&model)),
            as_values(unhashed(&real)),
            "{}: the model and kubectl differ",
            dir.display()
        );
    }
}

/// The checks catch what they are there for: each broken copy of the base gives its problem.
#[test]
fn a_broken_manifest_is_caught() {
    let root = repo_root();
    let known = known(&root);
    let base = kustomize(&root.join("deploy/base"));
    let (problems, _) = check_build(&base, &known);
    assert!(problems.is_empty(), "{}", problems.join("\n"));

    fn nightly(docs: &[Value]) -> usize {
        docs.iter()
            .position(|d| kind_and_name(d).1 == "flexiti-recon")
            .expect("the nightly CronJob")
    }
    fn container(doc: &mut Value) -> &mut Value {
        &mut doc["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]
    }
    fn config_text(docs: &mut [Value]) -> &mut Value {
        let map = docs
            .iter_mut()
            .find(|d| text(d, "kind") == Some("ConfigMap"))
            .expect("the ConfigMap");
        &mut map["data"]["config.toml"]
    }
    type Breakage = Box<dyn Fn(&mut Vec<Value>)>;
    let cases: Vec<(&[&str], Breakage)> = vec![
        (
            &[
                "the binary refuses the config (exit status: 2)",
                "unknown field `retries`",
            ],
            Box::new(|docs| {
                let text = config_text(docs);
                *text = format!("retries = 3\n{}", text.as_str().unwrap_or_default()).into();
            }),
        ),
        (
            &["env FLEXITI_SMTP_PASS: the program reads no such variable"],
            Box::new(|docs| {
                let i = nightly(docs);
                container(&mut docs[i])["env"][2]["name"] = "FLEXITI_SMTP_PASS".into();
            }),
        ),
        (
            &[
                "the binary refuses the config (exit status: 2)",
                "FLEXITI_SMTP_PASSWORD",
            ],
            Box::new(|docs| {
                // Without the SMTP password, a config with an SMTP username is refused.
                let i = nightly(docs);
                if let Some(env) = container(&mut docs[i])["env"].as_sequence_mut() {
                    env.retain(|v| text(v, "name") != Some("FLEXITI_SMTP_PASSWORD"));
                }
            }),
        ),
        (
            &["does not parse"],
            Box::new(|docs| {
                let i = nightly(docs);
                container(&mut docs[i])["args"][5] = "--triger".into();
            }),
        ),
        (
            &["concurrencyPolicy is not Forbid"],
            Box::new(|docs| {
                let i = nightly(docs);
                docs[i]["spec"]["concurrencyPolicy"] = "Allow".into();
            }),
        ),
        (
            &["is not the config's time_zone"],
            Box::new(|docs| {
                let i = nightly(docs);
                docs[i]["spec"]["timeZone"] = "Europe/Paris".into();
            }),
        ),
        (
            &["exit 2 (configuration) does not fail the Job at once"],
            Box::new(|docs| {
                let i = nightly(docs);
                docs[i]["spec"]["jobTemplate"]["spec"]["podFailurePolicy"] = Value::Null;
            }),
        ),
        (
            &["data_dir /var/lib/other is not on a writable mount"],
            Box::new(|docs| {
                let text = config_text(docs);
                let changed = text.as_str().unwrap_or_default().replace(
                    "data_dir = \"/var/lib/flexiti-recon\"",
                    "data_dir = \"/var/lib/other\"",
                );
                *text = changed.into();
            }),
        ),
    ];
    for (expected, breakage) in cases {
        let mut docs = base.clone();
        breakage(&mut docs);
        let (problems, _) = check_build(&docs, &known);
        assert!(
            problems
                .iter()
                .any(|p| expected.iter().all(|part| p.contains(part))),
            "expected a problem with {expected:?}, got: {problems:#?}"
        );
    }
}

/// The systemd units under cron/ run command lines the parser accepts.
#[test]
fn the_systemd_units_parse() {
    let root = repo_root();
    let mut checked = 0;
    for entry in std::fs::read_dir(root.join("cron"))
        .expect("cron/")
        .flatten()
    {
        let path = entry.path();
        if path.extension().and_then(|e| e.to_str()) != Some("service") {
            continue;
        }
        for line in read(&path).lines() {
            let Some(command) = line.strip_prefix("ExecStart=") else {
                continue;
            };
            let words: Vec<String> = command
                .trim_start_matches(['-', '@', ':', '+', '!'])
                .split_whitespace()
                .map(|w| w.replace("%i", "acme-furniture"))
                .collect();
            assert!(
                words.first().is_some_and(|w| w.ends_with("/flexiti-recon")),
                "{}: ExecStart runs {words:?}",
                path.display()
            );
            let argv =
                std::iter::once("flexiti-recon".to_string()).chain(words.into_iter().skip(1));
            if let Err(e) = Cli::try_parse_from(argv) {
                panic!("{}: {}", path.display(), e.render());
            }
            checked += 1;
        }
    }
    assert!(checked >= 2, "only {checked} ExecStart lines found");
}
