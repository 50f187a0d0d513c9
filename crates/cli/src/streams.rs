//! `kinesin streams`: a friendly face on the control plane (`docs/cli.md`, "kinesin streams").

use std::time::Duration;

use aws_sdk_kinesis::types::{
    ScalingType, Shard, StreamDescriptionSummary, StreamMode, StreamModeDetails, StreamStatus,
};
use aws_sdk_kinesis::Client;

use crate::connection::ConnectionArgs;
use crate::shard_tree;
use crate::CliError;

#[derive(clap::Args, Debug)]
pub struct StreamsArgs {
    #[command(subcommand)]
    pub command: StreamsCommand,
    #[command(flatten)]
    pub connection: ConnectionArgs,
}

#[derive(clap::Subcommand, Debug)]
pub enum StreamsCommand {
    /// List the streams: name, status, capacity mode.
    Ls,
    /// Create a stream and wait until it is ACTIVE.
    Create {
        name: String,
        /// Provisioned with this many shards (the default, with 1 shard, when --on-demand is not
        /// given).
        #[arg(long, conflicts_with = "on_demand")]
        shards: Option<i32>,
        /// On-demand capacity mode instead of provisioned shards.
        #[arg(long)]
        on_demand: bool,
        /// Return as soon as the request is accepted.
        #[arg(long)]
        no_wait: bool,
    },
    /// Show a stream's summary and its shards, drawn as a tree of their lineage.
    Describe { name: String },
    /// Delete a stream and wait until it is gone.
    Delete {
        name: String,
        /// Delete it even if it has registered consumers.
        #[arg(long)]
        force: bool,
        #[arg(long)]
        no_wait: bool,
    },
    /// Change the number of open shards (UpdateShardCount, uniform scaling) and wait until the
    /// stream is ACTIVE again.
    Scale {
        name: String,
        #[arg(long)]
        shards: i32,
        #[arg(long)]
        no_wait: bool,
    },
}

pub async fn run(args: StreamsArgs) -> Result<(), CliError> {
    let client = args.connection.client().await;
    let endpoint = args.connection.endpoint();
    match args.command {
        StreamsCommand::Ls => list(&client, &endpoint).await,
        StreamsCommand::Create { name, shards, on_demand, no_wait } => {
            let mut request = client.create_stream().stream_name(&name);
            request = if on_demand {
                let mode = StreamModeDetails::builder().stream_mode(StreamMode::OnDemand).build()?;
                request.stream_mode_details(mode)
            } else {
                request.shard_count(shards.unwrap_or(1))
            };
            request.send().await.map_err(|e| CliError::call("CreateStream", &endpoint, e))?;
            settle(&client, &endpoint, &name, no_wait, "created").await
        }
        StreamsCommand::Describe { name } => describe(&client, &endpoint, &name).await,
        StreamsCommand::Delete { name, force, no_wait } => {
            client
                .delete_stream()
                .stream_name(&name)
                .enforce_consumer_deletion(force)
                .send()
                .await
                .map_err(|e| CliError::call("DeleteStream", &endpoint, e))?;
            if !no_wait {
                while client.describe_stream_summary().stream_name(&name).send().await.is_ok() {
                    tokio::time::sleep(POLL).await;
                }
            }
            eprintln!("deleted {name}");
            Ok(())
        }
        StreamsCommand::Scale { name, shards, no_wait } => {
            client
                .update_shard_count()
                .stream_name(&name)
                .target_shard_count(shards)
                .scaling_type(ScalingType::UniformScaling)
                .send()
                .await
                .map_err(|e| CliError::call("UpdateShardCount", &endpoint, e))?;
            settle(&client, &endpoint, &name, no_wait, &format!("scaled to {shards} shards")).await
        }
    }
}

/// How often a waiting command asks again.
const POLL: Duration = Duration::from_millis(250);

/// Waits for ACTIVE (unless told not to) and says what was done.
async fn settle(
    client: &Client,
    endpoint: &str,
    name: &str,
    no_wait: bool,
    done: &str,
) -> Result<(), CliError> {
    if !no_wait {
        loop {
            if *summary(client, endpoint, name).await?.stream_status() == StreamStatus::Active {
                break;
            }
            tokio::time::sleep(POLL).await;
        }
    }
    eprintln!("{name} {done}");
    Ok(())
}

async fn list(client: &Client, endpoint: &str) -> Result<(), CliError> {
    let mut pages = client.list_streams().into_paginator().send();
    let mut rows = vec![["NAME".to_owned(), "STATUS".to_owned(), "MODE".to_owned()]];
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| CliError::call("ListStreams", endpoint, e))?;
        for summary in page.stream_summaries() {
            let mode = summary.stream_mode_details().map_or("PROVISIONED", |m| m.stream_mode().as_str());
            rows.push([
                summary.stream_name().to_owned(),
                summary.stream_status().as_str().to_owned(),
                mode.to_owned(),
            ]);
        }
    }
    print!("{}", columns(&rows));
    Ok(())
}

/// DescribeStreamSummary's summary.
async fn summary(client: &Client, endpoint: &str, name: &str) -> Result<StreamDescriptionSummary, CliError> {
    let answer = client
        .describe_stream_summary()
        .stream_name(name)
        .send()
        .await
        .map_err(|e| CliError::call("DescribeStreamSummary", endpoint, e))?;
    answer.stream_description_summary.ok_or(CliError::Answer("no stream summary"))
}

async fn describe(client: &Client, endpoint: &str, name: &str) -> Result<(), CliError> {
    let summary = summary(client, endpoint, name).await?;
    let mode = summary.stream_mode_details().map_or("PROVISIONED", |m| m.stream_mode().as_str());
    println!("{}  {}  {}", summary.stream_name(), summary.stream_status().as_str(), mode);
    println!("arn        {}", summary.stream_arn());
    println!("retention  {} hours", summary.retention_period_hours());
    println!("open       {} shards", summary.open_shard_count());
    println!("consumers  {}", summary.consumer_count().unwrap_or_default());
    let shards = list_shards(client, endpoint, name).await?;
    print!("{}", shard_tree::render(&shard_tree::from_sdk(&shards)));
    Ok(())
}

/// Every shard of the stream, closed ones included, in ListShards order.
pub async fn list_shards(client: &Client, endpoint: &str, stream: &str) -> Result<Vec<Shard>, CliError> {
    let mut shards = Vec::new();
    let mut next_token = None;
    loop {
        let request = match next_token.take() {
            Some(token) => client.list_shards().next_token(token),
            None => client.list_shards().stream_name(stream),
        };
        let page = request.send().await.map_err(|e| CliError::call("ListShards", endpoint, e))?;
        shards.extend_from_slice(page.shards());
        match page.next_token() {
            Some(token) => next_token = Some(token.to_owned()),
            None => return Ok(shards),
        }
    }
}

/// Left-aligned columns two spaces apart.
fn columns(rows: &[[String; 3]]) -> String {
    let widths: Vec<usize> = (0..3).map(|i| rows.iter().map(|r| r[i].len()).max().unwrap_or(0)).collect();
    rows.iter()
        .map(|row| {
            let line = format!("{:w0$}  {:w1$}  {}", row[0], row[1], row[2], w0 = widths[0], w1 = widths[1]);
            format!("{}\n", line.trim_end())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_line_up() {
        let row = |a: &str, b: &str, c: &str| [a.to_owned(), b.to_owned(), c.to_owned()];
        let text = columns(&[row("NAME", "STATUS", "MODE"), row("clicks", "ACTIVE", "ON_DEMAND")]);
        assert_eq!(text, "NAME    STATUS  MODE\nclicks  ACTIVE  ON_DEMAND\n");
    }
}
