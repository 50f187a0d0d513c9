//! `kinesin serve --config FILE`: a TOML file in which every serve flag is a key, spelled with
//! `_` for `-` (`data_dir = "/var/lib/kinesin"`), plus `[[streams]]` tables for the streams to
//! create at start-up.
//!
//! The file's values become the defaults of the command line, which is then parsed again: clap
//! itself gives a flag precedence over its environment variable, and either over the file. Keys
//! are the flags' own names, read from the command definition, so a new flag is a key without
//! any change here.

use std::any::TypeId;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

use clap::error::{ContextKind, ContextValue};
use clap::{Arg, ArgAction, Args, Command, FromArgMatches};

use crate::serve::ServeArgs;
use crate::startup_streams::StreamSpec;

/// `args` with its `--config` file applied, if it names one: the command line of `kinesin
/// serve` (`argv`, starting with `serve`) parsed again with the file's values as defaults.
pub fn apply_config_file(
    args: ServeArgs,
    argv: impl IntoIterator<Item = OsString>,
) -> Result<ServeArgs, String> {
    let Some(path) = args.config.clone() else { return Ok(args) };
    let command = serve_command();
    let file = ConfigFile::load(&path, &command)?;
    let matches = file.apply(command).try_get_matches_from(argv).map_err(|e| e.to_string())?;
    let mut args = ServeArgs::from_arg_matches(&matches).map_err(|e| e.to_string())?;
    args.stream_tables = file.streams;
    Ok(args)
}

fn serve_command() -> Command {
    ServeArgs::augment_args(Command::new("serve").bin_name("kinesin serve"))
}

/// The file's contents: `[[streams]]` and the flags' keys.
#[derive(serde::Deserialize)]
struct FileContents {
    #[serde(default)]
    streams: Vec<StreamSpec>,
    #[serde(flatten)]
    flags: toml::Table,
}

/// A configuration file, read and checked against the command it configures.
#[derive(Debug)]
struct ConfigFile {
    /// Each flag the file sets: its argument id and its values as command-line text.
    defaults: Vec<(clap::Id, Vec<OsString>)>,
    /// The `[[streams]]` tables.
    streams: Vec<StreamSpec>,
}

impl ConfigFile {
    /// Reads `path` and checks every key against the flags of `command` (`kinesin serve`).
    fn load(path: &Path, command: &Command) -> Result<ConfigFile, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read the config file {}: {e}", path.display()))?;
        Self::parse(path, &text, command)
    }

    fn parse(path: &Path, text: &str, command: &Command) -> Result<ConfigFile, String> {
        let in_file = |message: String| format!("config file {}: {message}", path.display());
        let contents: FileContents = toml::from_str(text).map_err(|e| in_file(e.to_string()))?;
        // Relative paths in the file are relative to the file, not to where kinesin started.
        let base = path.parent().unwrap_or(Path::new(""));
        let mut defaults = Vec::new();
        for (key, value) in &contents.flags {
            let arg = flag_for_key(command, key).ok_or_else(|| in_file(unknown_key(key, command)))?;
            let values = command_line_values(arg, value, base)
                .and_then(|values| check_with_flag_parser(arg, &values).map(|()| values))
                .map_err(|why| in_file(format!("`{key}` {why}")))?;
            defaults.push((arg.get_id().clone(), values));
        }
        Ok(ConfigFile { defaults, streams: contents.streams })
    }

    /// `command` with the file's values as its defaults.
    fn apply(&self, mut command: Command) -> Command {
        for (id, values) in &self.defaults {
            command = command.mut_arg(id, |arg| arg.default_values(values.clone()));
        }
        command
    }
}

/// The flags a file may set: all but `--config` itself, `--help` and `--version`.
fn settable_flags(command: &Command) -> impl Iterator<Item = &Arg> {
    command.get_arguments().filter(|arg| {
        arg.get_id() != "config"
            && arg.get_long().is_some()
            && !matches!(arg.get_action(), ArgAction::Help | ArgAction::HelpLong | ArgAction::Version)
    })
}

/// The config-file key of a flag: its long name with `_` for `-`.
fn key_of(arg: &Arg) -> String {
    arg.get_long().unwrap_or_default().replace('-', "_")
}

fn flag_for_key<'a>(command: &'a Command, key: &str) -> Option<&'a Arg> {
    settable_flags(command).find(|arg| key_of(arg) == key)
}

fn unknown_key(key: &str, command: &Command) -> String {
    if key == "config" {
        return "`config` cannot be set in a config file (one file configures a server)".to_owned();
    }
    let known: Vec<String> = settable_flags(command).map(key_of).collect();
    format!(
        "unknown key `{key}`. The keys are the flags of `kinesin serve` with `_` for `-`: {}, and [[streams]] tables",
        known.join(", ")
    )
}

/// What a flag takes, as far as the file's value types go.
#[derive(Debug, PartialEq, Eq)]
enum ValueKind {
    /// A flag without a value (`--enforce-limits`): true or false.
    Switch,
    Integer,
    /// A path: relative ones are taken relative to the config file.
    Path,
    Text,
    /// Anything else (a choice, a port or `off`): a string or an integer, which the flag's
    /// parser judges.
    TextOrInteger,
}

impl ValueKind {
    fn of(arg: &Arg) -> ValueKind {
        if matches!(arg.get_action(), ArgAction::SetTrue) {
            return ValueKind::Switch;
        }
        let type_id = arg.get_value_parser().type_id();
        let is = |t: TypeId| type_id == t;
        if [TypeId::of::<u16>(), TypeId::of::<u32>(), TypeId::of::<u64>(), TypeId::of::<i64>()]
            .into_iter()
            .any(is)
        {
            ValueKind::Integer
        } else if is(TypeId::of::<PathBuf>()) {
            ValueKind::Path
        } else if is(TypeId::of::<String>()) {
            ValueKind::Text
        } else {
            ValueKind::TextOrInteger
        }
    }
}

/// The value of a key as the command line would spell it, if its TOML type suits the flag.
fn command_line_values(arg: &Arg, value: &toml::Value, base: &Path) -> Result<Vec<OsString>, String> {
    use toml::Value as V;
    let kind = ValueKind::of(arg);
    let one = |value: &toml::Value| -> Result<OsString, String> {
        match (&kind, value) {
            (ValueKind::Switch, V::Boolean(on)) => Ok(on.to_string().into()),
            (ValueKind::Integer | ValueKind::TextOrInteger, V::Integer(n)) => Ok(n.to_string().into()),
            (ValueKind::Path, V::String(path)) => Ok(base.join(path).into()),
            (ValueKind::Text | ValueKind::TextOrInteger, V::String(text)) => Ok(text.into()),
            (_, other) => Err(format!("must be {}, not {}", expected(arg, &kind), describe(other))),
        }
    };
    match (value, arg.get_action()) {
        (V::Array(items), ArgAction::Append) => items.iter().map(one).collect(),
        (value, _) => Ok(vec![one(value)?]),
    }
}

/// What a flag takes, in words.
fn expected(arg: &Arg, kind: &ValueKind) -> String {
    let choices: Vec<String> =
        arg.get_possible_values().iter().map(|v| format!("\"{}\"", v.get_name())).collect();
    let one = match kind {
        ValueKind::Switch => "true or false".to_owned(),
        _ if !choices.is_empty() => format!("one of {}", choices.join(", ")),
        ValueKind::Integer => "an integer".to_owned(),
        ValueKind::Path => "a path (a string)".to_owned(),
        ValueKind::Text => "a string".to_owned(),
        ValueKind::TextOrInteger => "a string or an integer".to_owned(),
    };
    match arg.get_action() {
        ArgAction::Append => format!("{one}, or a list of them"),
        _ => one,
    }
}

fn describe(value: &toml::Value) -> String {
    match value {
        toml::Value::String(s) => format!("the string \"{s}\""),
        toml::Value::Integer(n) => format!("the integer {n}"),
        toml::Value::Float(x) => format!("the float {x}"),
        toml::Value::Boolean(b) => format!("the boolean {b}"),
        toml::Value::Datetime(d) => format!("the datetime {d}"),
        toml::Value::Array(_) => "a list".to_owned(),
        toml::Value::Table(_) => "a table".to_owned(),
    }
}

/// Runs the flag's own parser on the values (ranges, choices, formats), so that a bad value is
/// reported with its key rather than later as if it were a default.
fn check_with_flag_parser(arg: &Arg, values: &[OsString]) -> Result<(), String> {
    let long = arg.get_long().unwrap_or_default().to_owned();
    let probe = Command::new("config").no_binary_name(true).arg(
        Arg::new(arg.get_id().clone())
            .long(long.clone())
            .action(ArgAction::Append)
            .value_parser(arg.get_value_parser().clone()),
    );
    let argv = values.iter().flat_map(|value| [OsString::from(format!("--{long}")), value.clone()]);
    match probe.try_get_matches_from(argv) {
        Ok(_) => Ok(()),
        Err(error) => Err(format!("is invalid: {}", reason(&error))),
    }
}

/// The heart of a clap value error, without clap's framing.
fn reason(error: &clap::Error) -> String {
    let value = match error.get(ContextKind::InvalidValue) {
        Some(ContextValue::String(value)) => format!("\"{value}\""),
        _ => "the value".to_owned(),
    };
    if let Some(ContextValue::Strings(valid)) = error.get(ContextKind::ValidValue) {
        return format!("{value}: expected one of {}", valid.join(", "));
    }
    match std::error::Error::source(error) {
        Some(source) => format!("{value}: {source}"),
        None => error.kind().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `kinesin serve` configured by `toml`, with `argv` after `serve` on the command line: the
    /// parsed flags and the `[[streams]]` tables.
    fn serve_with(toml: &str, argv: &[&str]) -> Result<(clap::ArgMatches, Vec<StreamSpec>), String> {
        let command = serve_command();
        let file = ConfigFile::parse(Path::new("/etc/kinesin/kinesin.toml"), toml, &command)?;
        let argv = ["serve"].iter().chain(argv).map(OsString::from);
        let matches = file.apply(command).try_get_matches_from(argv).map_err(|e| e.to_string())?;
        ServeArgs::from_arg_matches(&matches).map_err(|e| e.to_string())?;
        Ok((matches, file.streams))
    }

    fn one<T: Clone + Send + Sync + 'static>(matches: &clap::ArgMatches, id: &str) -> T {
        matches.get_one::<T>(id).cloned().unwrap_or_else(|| panic!("no {id}"))
    }

    /// A value of the right type for a flag.
    fn sample(arg: &Arg) -> String {
        match ValueKind::of(arg) {
            ValueKind::Switch => "true".to_owned(),
            ValueKind::Integer => "7".to_owned(),
            ValueKind::Path | ValueKind::Text => "\"sample\"".to_owned(),
            ValueKind::TextOrInteger => match arg.get_possible_values().first() {
                Some(choice) => format!("\"{}\"", choice.get_name()),
                None => "\"0\"".to_owned(),
            },
        }
    }

    /// Keys come from the flags themselves, so a new flag cannot be forgotten: every one of them
    /// is a key, and setting it in the file sets the flag.
    #[test]
    fn every_serve_flag_is_a_config_key() {
        let command = serve_command();
        let flags: Vec<&Arg> = settable_flags(&command).collect();
        let all = command.get_arguments().filter(|arg| arg.get_long().is_some()).count();
        assert_eq!(flags.len(), all - 1, "every flag but --config (--help is not among the arguments yet)");
        for arg in flags {
            let key = key_of(arg);
            let toml = format!("{key} = {}", sample(arg));
            let file = ConfigFile::parse(Path::new("k.toml"), &toml, &command)
                .unwrap_or_else(|e| panic!("{toml}: {e}"));
            let matches = file.apply(serve_command()).try_get_matches_from(["serve"]).unwrap();
            assert_eq!(
                matches.value_source(arg.get_id().as_str()),
                Some(clap::parser::ValueSource::DefaultValue),
                "{key}"
            );
            let raw: Vec<_> = matches.get_raw(arg.get_id().as_str()).unwrap().collect();
            assert_eq!(raw, file.defaults[0].1, "{key}");
        }
    }

    #[test]
    fn the_command_line_overrides_the_file_and_the_file_overrides_the_defaults() {
        let settings = |(m, _): (clap::ArgMatches, _)| {
            (one::<u16>(&m, "port"), one::<u32>(&m, "shard_limit"), one::<bool>(&m, "enforce_limits"))
        };
        let file = "port = 1234\nshard_limit = 9\nenforce_limits = true";
        assert_eq!(settings(serve_with(file, &["--port", "4321"]).unwrap()), (4321, 9, true));
        assert_eq!(settings(serve_with("", &[]).unwrap()), (4567, 500, false));
    }

    #[test]
    fn cluster_mode_keys() {
        let toml = r#"
            metadata = "postgres://kinesin@db/kinesin"
            bucket = "s3://records/prod"
            s3_endpoint = "http://minio:9000"
            flush_ms = 25
        "#;
        let (m, _) = serve_with(toml, &[]).unwrap();
        assert_eq!(one::<String>(&m, "metadata"), "postgres://kinesin@db/kinesin");
        assert_eq!(one::<String>(&m, "bucket"), "s3://records/prod");
        assert_eq!(one::<String>(&m, "s3_endpoint"), "http://minio:9000");
        assert_eq!(one::<u32>(&m, "flush_ms"), 25);
        let zero = serve_with("flush_ms = 0", &[]).unwrap_err();
        assert!(zero.contains("`flush_ms` is invalid: \"0\""), "{zero}");
    }

    #[test]
    fn relative_paths_are_relative_to_the_file() {
        let (m, _) = serve_with("data_dir = \"data\"\ncredentials = \"/abs/keys\"", &[]).unwrap();
        assert_eq!(one::<PathBuf>(&m, "data_dir"), Path::new("/etc/kinesin/data"));
        assert_eq!(one::<PathBuf>(&m, "credentials"), Path::new("/abs/keys"));
    }

    #[test]
    fn streams_from_the_flag_key_and_from_tables() {
        let toml = r#"
            create_stream = ["a:2", "b::on-demand"]
            [[streams]]
            name = "orders"
            shards = 3
            retention_hours = 48
            tags = { team = "payments" }
            consumers = ["audit"]
        "#;
        let names = |m: &clap::ArgMatches| -> Vec<String> {
            m.get_many::<StreamSpec>("create_stream").unwrap().map(|s| s.name.clone()).collect()
        };
        let (m, tables) = serve_with(toml, &[]).unwrap();
        assert_eq!(names(&m), ["a", "b"]);
        let orders = &tables[0];
        assert_eq!((orders.shards, orders.retention_hours), (Some(3), Some(48)));
        assert_eq!(orders.tags["team"], "payments");
        assert_eq!(orders.consumers, ["audit"]);
        // The flag replaces the file's `create_stream`, not its tables.
        let (m, tables) = serve_with(toml, &["--create-stream", "c"]).unwrap();
        assert_eq!((names(&m), tables.len()), (vec!["c".to_owned()], 1));
    }

    #[test]
    fn mistakes_name_the_file_the_key_and_what_was_expected() {
        let error = |toml: &str| serve_with(toml, &[]).unwrap_err();
        let unknown = error("prot = 4567");
        assert!(
            unknown.starts_with("config file /etc/kinesin/kinesin.toml: unknown key `prot`"),
            "{unknown}"
        );
        assert!(unknown.contains("port, host, data_dir"), "lists the keys: {unknown}");
        assert!(error("config = \"x.toml\"").contains("`config` cannot be set"));
        assert!(error("port = \"4567\"").contains("`port` must be an integer, not the string \"4567\""));
        assert!(error("port = 70000").contains("`port` is invalid: \"70000\": 70000 is not in 0..=65535"));
        assert!(
            error("enforce_limits = 1").contains("`enforce_limits` must be true or false, not the integer 1")
        );
        assert!(error("durability = \"disk\"")
            .contains("`durability` is invalid: \"disk\": expected one of fsync, os"));
        assert!(error("data_dir = 3").contains("`data_dir` must be a path (a string), not the integer 3"));
        assert!(error("admin_port = \"of\"").contains("`admin_port` is invalid: \"of\": expected a port"));
        assert!(error("create_stream = [\"a:x\"]")
            .contains("`create_stream` is invalid: \"a:x\": SHARDS must be a number"));
        let table = error("[[streams]]\nname = \"s\"\nshard = 1");
        assert!(table.contains("unknown field `shard`") && table.contains("line 3"), "{table}");
        let mode = error("[[streams]]\nname = \"s\"\nmode = \"ondemand\"");
        assert!(
            mode.contains("`provisioned`, `on-demand`") || mode.contains("`provisioned` or `on-demand`"),
            "{mode}"
        );
    }
}
