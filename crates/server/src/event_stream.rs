//! The answer of an operation that streams events (SubscribeToShard,
//! `docs/protocol/event-streams.md`): `200`, `Content-Type: application/vnd.amazon.eventstream`,
//! and a body of event-stream messages. The `initial-response` event comes first, then one message
//! per [`Event`] the engine produces, each in its own HTTP/2 DATA frame or HTTP/1.1 chunk as soon
//! as it is produced, until the engine ends the stream or the server shuts down.
//!
//! Payloads are encoded like the request: JSON, or CBOR when the request was CBOR
//! (`docs/protocol/event-streams.md`, "JSON or CBOR payloads").

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use aws_smithy_eventstream::frame::write_message_to;
use aws_smithy_types::event_stream::{Header, HeaderValue, Message};
use bytes::Bytes;
use http::header::CONTENT_TYPE;
use http::{HeaderValue as HttpHeaderValue, Response};
use http_body_util::BodyExt;
use hyper::body::{Body, Frame};
use kinesin_engine::Event;
use kinesin_wire::{encode, Format, Value};
use tokio::sync::{mpsc, watch};

use crate::response::{BoxError, ResponseBody};

const EVENT_STREAM: &str = "application/vnd.amazon.eventstream";

/// The streamed response. `closing` turns true when the server shuts down; the stream then
/// ends cleanly, as a subscription that ran out does.
pub fn response(
    format: Format,
    events: mpsc::Receiver<Event>,
    mut closing: watch::Receiver<bool>,
) -> Response<ResponseBody> {
    let body = EventBody {
        format,
        initial_response_sent: false,
        events,
        closing: Box::pin(async move {
            // An error means the server is gone, which is closing too.
            let _ = closing.wait_for(|closing| *closing).await;
        }),
        ended: false,
    };
    let mut response = Response::new(body.boxed_unsync());
    response.headers_mut().insert(CONTENT_TYPE, HttpHeaderValue::from_static(EVENT_STREAM));
    response
}

struct EventBody {
    format: Format,
    initial_response_sent: bool,
    events: mpsc::Receiver<Event>,
    closing: Pin<Box<dyn Future<Output = ()> + Send>>,
    /// Set once the body has ended; `closing` must not be polled after it completed.
    ended: bool,
}

impl Body for EventBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = &mut *self;
        if this.ended {
            return Poll::Ready(None);
        }
        if !this.initial_response_sent {
            this.initial_response_sent = true;
            return Poll::Ready(Some(Ok(Frame::data(initial_response(this.format)))));
        }
        if this.closing.as_mut().poll(cx).is_ready() {
            this.ended = true;
            return Poll::Ready(None);
        }
        match this.events.poll_recv(cx) {
            Poll::Ready(Some(event)) => Poll::Ready(Some(Ok(Frame::data(encode_event(this.format, &event))))),
            Poll::Ready(None) => {
                this.ended = true;
                Poll::Ready(None)
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

/// The first message of every event stream: the operation's non-streamed output members, of
/// which SubscribeToShard has none, so an empty structure.
fn initial_response(format: Format) -> Bytes {
    let payload = encode::encode(format, &Value::object());
    message(format, "event", (":event-type", "initial-response"), payload)
}

/// One event, or the exception that ends the stream.
fn encode_event(format: Format, event: &Event) -> Bytes {
    match event {
        Event::Event { event_type, payload } => {
            message(format, "event", (":event-type", event_type), encode::encode(format, payload))
        }
        Event::Exception(error) => {
            let payload = Value::object().with_opt("message", error.message.as_deref());
            message(format, "exception", (":exception-type", error.code), encode::encode(format, &payload))
        }
    }
}

/// A message with `:message-type`, the header naming the event or exception type, and
/// `:content-type`.
fn message(
    format: Format,
    message_type: &'static str,
    (type_header, type_name): (&'static str, &'static str),
    payload: Vec<u8>,
) -> Bytes {
    let content_type = match format {
        Format::Json => "application/json",
        Format::Cbor => Format::Cbor.content_type(),
    };
    let message = Message::new(payload)
        .add_header(Header::new(":message-type", HeaderValue::String(message_type.into())))
        .add_header(Header::new(type_header, HeaderValue::String(type_name.into())))
        .add_header(Header::new(":content-type", HeaderValue::String(content_type.into())));
    let mut frame = Vec::new();
    // Fails only past the format's limits (16 MiB payloads, 128 KiB of headers); events are
    // capped far below (a few MiB of records).
    write_message_to(&message, &mut frame).expect("event within the event-stream size limits");
    frame.into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_smithy_eventstream::frame::read_message_from;
    use kinesin_wire::ApiError;

    fn header(message: &Message, name: &str) -> String {
        let header = message
            .headers()
            .iter()
            .find(|h| h.name().as_str() == name)
            .unwrap_or_else(|| panic!("no header {name}"));
        header.value().as_string().unwrap().as_str().to_owned()
    }

    /// Byte for byte the frame `docs/protocol/event-streams.md` quotes ("The initial-response
    /// frame"), which botocore accepts.
    #[test]
    fn initial_response_matches_the_verified_frame() {
        let expected = "000000680000005\
            64e6817240d3a6d6573736167652d74797065070005\
            6576656e740b3a6576656e742d747970650700106\
            96e697469616c2d726573706f6e73650d3a636f6e\
            74656e742d747970650700106170706c69636174\
            696f6e2f6a736f6e7b7dfe942c1d";
        let hex: String = initial_response(Format::Json).iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex, expected);
    }

    #[test]
    fn events_and_exceptions_carry_their_types_and_payloads() {
        let event = Event::Event {
            event_type: "SubscribeToShardEvent",
            payload: Value::object().with("MillisBehindLatest", 0i64),
        };
        let decoded = read_message_from(&encode_event(Format::Json, &event)[..]).unwrap();
        assert_eq!(header(&decoded, ":message-type"), "event");
        assert_eq!(header(&decoded, ":event-type"), "SubscribeToShardEvent");
        assert_eq!(&decoded.payload()[..], br#"{"MillisBehindLatest":0}"#);

        let exception = Event::Exception(ApiError::resource_in_use("taken over"));
        let decoded = read_message_from(&encode_event(Format::Cbor, &exception)[..]).unwrap();
        assert_eq!(header(&decoded, ":message-type"), "exception");
        assert_eq!(header(&decoded, ":exception-type"), "ResourceInUseException");
        assert_eq!(header(&decoded, ":content-type"), "application/x-amz-cbor-1.1");
        // {"message": "taken over"} in CBOR.
        assert_eq!(&decoded.payload()[..], b"\xa1\x67message\x6ataken over");
    }
}
