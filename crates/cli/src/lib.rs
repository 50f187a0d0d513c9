//! kinesin's client subcommands, on the official SDK and `kinesin-client`, for kinesin and AWS
//! alike (`docs/cli.md`): `kinesin streams` (the control plane), `kinesin put` (records from
//! stdin through the producer) and `kinesin tail` (every shard, following resharding).

mod connection;
pub mod put;
mod shard_tree;
pub mod streams;
pub mod tail;

use std::fmt;

use aws_sdk_kinesis::error::{DisplayErrorContext, SdkError};

pub use connection::ConnectionArgs;

/// Why a subcommand stopped. `Display` says what to do next where there is something to do.
#[derive(Debug)]
pub enum CliError {
    /// A call failed: the operation, the endpoint, and the SDK's whole account of it.
    Call {
        operation: &'static str,
        endpoint: String,
        detail: String,
    },
    /// The producer could not start (the stream, the endpoint, why).
    Producer(String, String, kinesin_client::Error),
    /// An answer lacked something it always has.
    Answer(&'static str),
    /// The flags or the input do not make sense together.
    Usage(String),
    Input(std::io::Error),
    Output(std::io::Error),
    /// Records that were read were not all acknowledged.
    Unacknowledged(String),
    Build(aws_sdk_kinesis::error::BuildError),
    /// A long-running subcommand could not start or go on: what happened and what to do.
    Stopped(String),
}

impl CliError {
    pub(crate) fn call<E, R>(operation: &'static str, endpoint: &str, error: SdkError<E, R>) -> CliError
    where
        E: std::error::Error + 'static,
        R: fmt::Debug,
    {
        CliError::Call {
            operation,
            endpoint: endpoint.to_owned(),
            detail: DisplayErrorContext(&error).to_string(),
        }
    }
}

impl From<aws_sdk_kinesis::error::BuildError> for CliError {
    fn from(error: aws_sdk_kinesis::error::BuildError) -> CliError {
        CliError::Build(error)
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CliError::Call { operation, endpoint, detail } => {
                write!(f, "{operation} at {endpoint} failed: {detail}")?;
                if detail.contains("dispatch failure") || detail.contains("io error") {
                    write!(
                        f,
                        "\nIs a server listening there? Start one with `kinesin serve`, or name another \
                         with --endpoint-url or AWS_ENDPOINT_URL."
                    )?;
                }
                Ok(())
            }
            CliError::Producer(stream, endpoint, error) => {
                write!(f, "cannot put into {stream} at {endpoint}: {error}")
            }
            CliError::Answer(what) => write!(f, "unexpected answer: {what}"),
            CliError::Usage(message) | CliError::Unacknowledged(message) | CliError::Stopped(message) => {
                f.write_str(message)
            }
            CliError::Input(error) => write!(f, "cannot read the input: {error}"),
            CliError::Output(error) => write!(f, "cannot write the output: {error}"),
            CliError::Build(error) => write!(f, "invalid request: {error}"),
        }
    }
}

impl std::error::Error for CliError {}

/// Runs a subcommand on a runtime of its own.
pub fn block_on(command: impl std::future::Future<Output = Result<(), CliError>>) -> Result<(), String> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))?;
    runtime.block_on(command).map_err(|e| e.to_string())
}
