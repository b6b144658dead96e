//! Sending messages to people: email (SMTP, or the development outbox folder) and SMS, with
//! the templates they are written from. Nothing here decides *whether* to send: the rules
//! (account, mfa) do, and hand over what to send.

pub mod mail;
pub mod sms;
