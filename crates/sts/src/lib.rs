//! STS on the kinesin endpoint: `GetCallerIdentity`, the one STS call the KPL (0.15) makes, to
//! build its stream's ARN (`docs/interop.md`). It answers with the account the request acts
//! for, as AWS does for an account's root credentials; every other action is AWS's
//! `InvalidAction`.

use bytes::Bytes;
use http::StatusCode;
use kinesin_service::{Answer, BoxFuture, Call, FrontDoorError, Protocol, Routes, Service};

/// The awsQuery API version of STS.
const VERSION: &str = "2011-06-15";
const NAMESPACE: &str = "https://sts.amazonaws.com/doc/2011-06-15/";
const XML: &str = "text/xml";

/// STS's `GetCallerIdentity`, over awsQuery.
#[derive(Debug, Default)]
pub struct Sts;

impl Service for Sts {
    fn routes(&self) -> Routes {
        Routes {
            target_prefix: "AWSSecurityTokenServiceV20110615",
            rpc_v2_name: None,
            query_version: Some(VERSION),
        }
    }

    fn signing_name(&self) -> &'static str {
        "sts"
    }

    fn handle<'a>(&'a self, call: Call<'a>) -> BoxFuture<'a, Answer> {
        let answer = match (call.protocol, call.operation) {
            (Protocol::AwsQuery, "GetCallerIdentity") => {
                caller_identity(&call.context.account, call.request_id)
            }
            _ => error(
                StatusCode::BAD_REQUEST,
                "InvalidAction",
                &format!("Could not find operation {} for version {VERSION}", call.operation),
                call.request_id,
            ),
        };
        Box::pin(async move { answer })
    }

    fn render_error(&self, _: Protocol, error: &FrontDoorError) -> Answer {
        // awsQuery services name errors without the `Exception` suffix.
        let code = error.code.strip_suffix("Exception").unwrap_or(error.code);
        self::error(error.status, code, &error.message, &error.request_id)
    }
}

fn caller_identity(account: &str, request_id: &str) -> Answer {
    let body = format!(
        "<GetCallerIdentityResponse xmlns=\"{NAMESPACE}\"><GetCallerIdentityResult>\
         <Arn>arn:aws:iam::{account}:root</Arn><UserId>{account}</UserId><Account>{account}</Account>\
         </GetCallerIdentityResult><ResponseMetadata><RequestId>{request_id}</RequestId>\
         </ResponseMetadata></GetCallerIdentityResponse>"
    );
    Answer { status: StatusCode::OK, content_type: Some(XML), headers: Vec::new(), body: Bytes::from(body) }
}

fn error(status: StatusCode, code: &str, message: &str, request_id: &str) -> Answer {
    let body = format!(
        "<ErrorResponse xmlns=\"{NAMESPACE}\"><Error><Type>Sender</Type><Code>{code}</Code>\
         <Message>{}</Message></Error><RequestId>{request_id}</RequestId></ErrorResponse>",
        escape(message)
    );
    Answer { status, content_type: Some(XML), headers: Vec::new(), body: Bytes::from(body) }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use http::HeaderMap;
    use kinesin_service::RequestContext;

    use super::*;

    fn run(protocol: Protocol, operation: &str) -> Answer {
        let context = RequestContext { account: "111122223333".into(), region: "us-east-1".into() };
        let headers = HeaderMap::new();
        let call = Call {
            context: &context,
            protocol,
            operation,
            headers: &headers,
            body: Bytes::new(),
            request_id: "rid",
        };
        let future = Sts.handle(call);
        // The answer is ready at once: poll it without a runtime.
        let waker = std::task::Waker::noop();
        let mut context = std::task::Context::from_waker(waker);
        let mut future = future;
        match future.as_mut().poll(&mut context) {
            std::task::Poll::Ready(answer) => answer,
            std::task::Poll::Pending => panic!("STS answers at once"),
        }
    }

    fn text(answer: &Answer) -> &str {
        std::str::from_utf8(&answer.body).unwrap()
    }

    #[test]
    fn caller_identity_names_the_requests_account() {
        let answer = run(Protocol::AwsQuery, "GetCallerIdentity");
        assert_eq!(answer.status, StatusCode::OK);
        assert!(text(&answer).contains("<Account>111122223333</Account>"), "{}", text(&answer));
        assert!(text(&answer).contains("<Arn>arn:aws:iam::111122223333:root</Arn>"));
        assert!(text(&answer).contains("<RequestId>rid</RequestId>"));
    }

    #[test]
    fn other_actions_are_invalid() {
        let answer = run(Protocol::AwsQuery, "AssumeRole");
        assert_eq!(answer.status, StatusCode::BAD_REQUEST);
        assert!(text(&answer).contains("<Code>InvalidAction</Code>"));
        assert!(text(&answer).contains("Could not find operation AssumeRole for version 2011-06-15"));
    }

    #[test]
    fn front_door_errors_drop_the_exception_suffix() {
        let error = FrontDoorError {
            code: "MissingAuthenticationTokenException",
            message: "Missing Authentication Token".into(),
            status: StatusCode::FORBIDDEN,
            request_id: "rid".into(),
        };
        let answer = Sts.render_error(Protocol::AwsQuery, &error);
        assert_eq!(answer.status, StatusCode::FORBIDDEN);
        assert!(text(&answer).contains("<Code>MissingAuthenticationToken</Code>"));
    }
}
