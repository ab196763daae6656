//! The dispatcher: the one place where a message kind meets its handler. Every door of the entry pipeline
//! (`onshi_platform::pipeline`) ends here; follow a stem from this `match` to the handler module named after it.
//! A kind whose service runs in another process is forwarded to it (`onshi_platform::forward`), where the same
//! `match` answers it.

use std::sync::Arc;

use onshi_checkup::Checkups;
use onshi_eligibility::Eligibility;
use onshi_medication::Medication;
use onshi_platform::forward::Forward;
use onshi_platform::pipeline::{Handlers, Reply, Request};
use onshi_platform::pki::PeerCert;
use onshi_wire::msg::file_name::MessageKind;
use onshi_wire::msg::FileError;

/// Where a service that answers messages runs.
pub enum At<T> {
    /// In this process.
    Here(T),
    /// In another process: its messages are forwarded.
    There(Forward),
    /// Nowhere this process knows of: its messages are answered `unsupported_message`.
    Absent,
}

/// The services that answer messages, as this process reaches them.
pub struct Services {
    /// Verifies certificates and Web API tokens, and answers the qualification messages (the front door's
    /// service; a process without it answers only what is forwarded to it).
    pub eligibility: Option<Arc<Eligibility>>,
    pub medication: At<Arc<Medication>>,
    pub checkup: At<Arc<Checkups>>,
}

impl Handlers for Services {
    fn certificate(&self, peer: Option<&PeerCert>) -> Result<Option<String>, FileError> {
        match &self.eligibility {
            Some(e) => e.certificate(peer),
            None => Err(FileError::new(
                onshi_wire::result_codes::ResultKey::AuthRequired,
                "no front door in this process",
            )),
        }
    }

    fn token(&self, token: &str) -> Option<String> {
        self.eligibility
            .as_ref()?
            .verify_token(token)
            .map(|code| code.as_str().to_string())
    }

    async fn dispatch(&self, req: Request) -> Reply {
        use onshi_eligibility::{
            home_care, medical_aid, oqs_muimm01, oqs_muimm02, oqs_muquc01, oqs_muquc02,
            oqs_siimm01, oqs_siquc01,
        };
        use onshi_wire::msg::home_care::Care;
        let (m, c) = (&self.medication, &self.checkup);
        match (req.kind, &self.eligibility) {
            (MessageKind::YzkSiquc01, _) => match m {
                At::Here(m) => onshi_medication::yzk_siquc01::answer(m, req).await,
                At::There(f) => f.dispatch(req).await,
                At::Absent => Reply::unsupported(&req),
            },
            (MessageKind::TkkSiquc01, _) => match c {
                At::Here(c) => onshi_checkup::tkk_siquc01::answer(c, req).await,
                At::There(f) => f.dispatch(req).await,
                At::Absent => Reply::unsupported(&req),
            },
            (_, None) => Reply::unsupported(&req),
            (MessageKind::OqsSiquc01, Some(e)) => oqs_siquc01::answer(e, req).await,
            (MessageKind::OqsSiimm01, Some(e)) => oqs_siimm01::answer(e, req).await,
            (MessageKind::OqsMuimm01, Some(e)) => oqs_muimm01::answer(e, req).await,
            (MessageKind::OqsMuimm02, Some(e)) => oqs_muimm02::answer(e, req).await,
            (MessageKind::OqsMuquc01, Some(e)) => oqs_muquc01::answer(e, req).await,
            (MessageKind::OqsMuquc02, Some(e)) => oqs_muquc02::answer(e, req).await,
            (MessageKind::OqsMuhvq01, Some(e)) => home_care::receive(e, req, Care::Visit).await,
            (MessageKind::OqsMuhvq02, Some(e)) => home_care::download(e, req, Care::Visit).await,
            (MessageKind::OqsMuonq01, Some(e)) => home_care::receive(e, req, Care::Online).await,
            (MessageKind::OqsMuonq02, Some(e)) => home_care::download(e, req, Care::Online).await,
            (MessageKind::OqsMutic01, Some(e)) => medical_aid::receive(e, req).await,
            (MessageKind::OqsMutic02, Some(e)) => medical_aid::download(e, req).await,
        }
    }
}
