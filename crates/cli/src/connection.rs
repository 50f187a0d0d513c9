//! Where the subcommands connect and as whom, by the AWS CLI's conventions (`docs/cli.md`,
//! "Endpoint and credentials"), except that with no endpoint configured they talk to a local
//! kinesin rather than to AWS.

use aws_config::BehaviorVersion;
use aws_sdk_kinesis::config::{Credentials, Region, SharedCredentialsProvider};
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode};

/// The endpoint when nothing else names one: `kinesin serve`'s default address.
pub const LOCAL_ENDPOINT: &str = "http://127.0.0.1:4567";
/// The region when nothing else names one.
const DEFAULT_REGION: &str = "us-east-1";

/// The flags every subcommand takes (anywhere on the command line: they are global).
#[derive(clap::Args, Debug, Clone, Default)]
pub struct ConnectionArgs {
    /// The endpoint to call. Without it: AWS_ENDPOINT_URL_KINESIS, then AWS_ENDPOINT_URL, then a
    /// local kinesin at http://127.0.0.1:4567.
    #[arg(long, value_name = "URL", global = true)]
    pub endpoint_url: Option<String>,
    /// The region. Without it: AWS_REGION, AWS_DEFAULT_REGION, the profile's, then us-east-1.
    #[arg(long, global = true)]
    pub region: Option<String>,
    /// The profile of ~/.aws/config and ~/.aws/credentials to use (else AWS_PROFILE, then
    /// `default`).
    #[arg(long, global = true)]
    pub profile: Option<String>,
}

impl ConnectionArgs {
    /// The endpoint these flags and the environment name.
    pub fn endpoint(&self) -> String {
        endpoint_from(self.endpoint_url.as_deref(), "AWS_ENDPOINT_URL_KINESIS", |name| {
            std::env::var(name).ok()
        })
    }

    /// The endpoint of DynamoDB, where consumer applications keep their leases: the same, with
    /// AWS_ENDPOINT_URL_DYNAMODB in place of AWS_ENDPOINT_URL_KINESIS (kinesin serves both).
    pub fn dynamodb_endpoint(&self) -> String {
        endpoint_from(self.endpoint_url.as_deref(), "AWS_ENDPOINT_URL_DYNAMODB", |name| {
            std::env::var(name).ok()
        })
    }

    /// A Kinesis client: the SDK's own resolution of regions, profiles and credentials. When no
    /// credentials are found anywhere, fixed placeholder ones are used, which a kinesin without
    /// `--credentials` accepts (AWS refuses them, with its own message).
    pub async fn client(&self) -> aws_sdk_kinesis::Client {
        let shared = self.sdk_config().await;
        let config = aws_sdk_kinesis::config::Builder::from(&shared).endpoint_url(self.endpoint());
        aws_sdk_kinesis::Client::from_conf(config.build())
    }

    /// A DynamoDB client, resolved as [`client`](Self::client).
    pub async fn dynamodb_client(&self) -> aws_sdk_dynamodb::Client {
        let shared = self.sdk_config().await;
        let config = aws_sdk_dynamodb::config::Builder::from(&shared).endpoint_url(self.dynamodb_endpoint());
        aws_sdk_dynamodb::Client::from_conf(config.build())
    }

    /// The AWS CLI's resolution of region and credentials (flags, environment, profiles), with
    /// the local server's defaults where nothing is set.
    pub(crate) async fn sdk_config(&self) -> aws_config::SdkConfig {
        let http = aws_smithy_http_client::Builder::new()
            .tls_provider(tls::Provider::Rustls(CryptoMode::Ring))
            .build_https();
        let mut loader = aws_config::defaults(BehaviorVersion::latest()).http_client(http);
        if let Some(profile) = &self.profile {
            loader = loader.profile_name(profile);
        }
        if let Some(region) = &self.region {
            loader = loader.region(Region::new(region.clone()));
        }
        let shared = loader.load().await;
        let has_credentials = has_credentials(&shared).await;
        let has_region = shared.region().is_some();
        let mut config = shared.into_builder();
        if !has_region {
            config.set_region(Some(Region::new(DEFAULT_REGION)));
        }
        if !has_credentials {
            let placeholder = Credentials::new("kinesin", "kinesin", None, None, "kinesin-cli");
            config.set_credentials_provider(Some(SharedCredentialsProvider::new(placeholder)));
        }
        config.build()
    }
}

async fn has_credentials(shared: &aws_config::SdkConfig) -> bool {
    use aws_sdk_kinesis::config::ProvideCredentials;
    match shared.credentials_provider() {
        Some(provider) => provider.provide_credentials().await.is_ok(),
        None => false,
    }
}

/// The flag, then the service's variable, then the general one, then the local server.
fn endpoint_from(flag: Option<&str>, service_variable: &str, env: impl Fn(&str) -> Option<String>) -> String {
    let non_empty = |value: Option<String>| value.filter(|v| !v.is_empty());
    flag.map(str::to_owned)
        .or_else(|| non_empty(env(service_variable)))
        .or_else(|| non_empty(env("AWS_ENDPOINT_URL")))
        .unwrap_or_else(|| LOCAL_ENDPOINT.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoint_precedence_follows_the_aws_cli() {
        const KINESIS: &str = "AWS_ENDPOINT_URL_KINESIS";
        let env = |vars: &'static [(&'static str, &'static str)]| {
            move |name: &str| vars.iter().find(|(n, _)| *n == name).map(|(_, v)| v.to_string())
        };
        let both = env(&[("AWS_ENDPOINT_URL_KINESIS", "http://k:1"), ("AWS_ENDPOINT_URL", "http://g:2")]);
        assert_eq!(endpoint_from(Some("http://flag:3"), KINESIS, both), "http://flag:3");
        assert_eq!(endpoint_from(None, KINESIS, both), "http://k:1");
        assert_eq!(endpoint_from(None, KINESIS, env(&[("AWS_ENDPOINT_URL", "http://g:2")])), "http://g:2");
        assert_eq!(endpoint_from(None, KINESIS, env(&[("AWS_ENDPOINT_URL_KINESIS", "")])), LOCAL_ENDPOINT);
        assert_eq!(endpoint_from(None, KINESIS, env(&[])), LOCAL_ENDPOINT);
    }
}
