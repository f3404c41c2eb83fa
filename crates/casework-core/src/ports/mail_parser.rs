//! The mail parser: raw RFC 5322 bytes into an [`InboundMessage`]. MIME, charsets and
//! encodings are an adapter's business (`casework-mail`); core decides what the parsed
//! message does, so every input (the MTA pipe, IMAP, the webhook) behaves alike.

use crate::inbound::InboundMessage;

/// Parses inbound mail. An implementation never panics on any bytes.
pub trait MailParser: Send + Sync {
    /// The parsed message, or why these bytes can never be taken (empty, not an email, over
    /// a limit): a permanent refusal, the same every time for the same bytes.
    fn parse(&self, raw: &[u8]) -> Result<InboundMessage, String>;
}
