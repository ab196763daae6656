//! The dispatcher: the one place where a message kind meets its handler. Every door of the entry pipeline
//! (`onshi_platform::pipeline`) ends here; follow a stem from this `match` to the handler module named after it.

use std::sync::Arc;

use onshi_checkup::Checkups;
use onshi_eligibility::Eligibility;
use onshi_medication::Medication;
use onshi_platform::pipeline::{Handlers, Reply, Request};
use onshi_platform::pki::PeerCert;
use onshi_wire::msg::file_name::MessageKind;
use onshi_wire::msg::FileError;

/// The services of this process that answer messages.
pub struct Services {
    /// Verifies certificates and Web API tokens, and answers the qualification messages.
    pub eligibility: Arc<Eligibility>,
    pub medication: Option<Arc<Medication>>,
    pub checkup: Option<Arc<Checkups>>,
}

impl Handlers for Services {
    fn certificate(&self, peer: Option<&PeerCert>) -> Result<Option<String>, FileError> {
        self.eligibility.certificate(peer)
    }

    fn token(&self, token: &str) -> Option<String> {
        self.eligibility
            .verify_token(token)
            .map(|code| code.as_str().to_string())
    }

    async fn dispatch(&self, req: Request) -> Reply {
        use onshi_eligibility::{
            home_care, medical_aid, oqs_muimm01, oqs_muimm02, oqs_muquc01, oqs_muquc02,
            oqs_siimm01, oqs_siquc01,
        };
        use onshi_wire::msg::home_care::Care;
        let e = &self.eligibility;
        match (req.kind, &self.medication, &self.checkup) {
            (MessageKind::OqsSiquc01, ..) => oqs_siquc01::answer(e, req).await,
            (MessageKind::OqsSiimm01, ..) => oqs_siimm01::answer(e, req).await,
            (MessageKind::OqsMuimm01, ..) => oqs_muimm01::answer(e, req).await,
            (MessageKind::OqsMuimm02, ..) => oqs_muimm02::answer(e, req).await,
            (MessageKind::OqsMuquc01, ..) => oqs_muquc01::answer(e, req).await,
            (MessageKind::OqsMuquc02, ..) => oqs_muquc02::answer(e, req).await,
            (MessageKind::OqsMuhvq01, ..) => home_care::receive(e, req, Care::Visit).await,
            (MessageKind::OqsMuhvq02, ..) => home_care::download(e, req, Care::Visit).await,
            (MessageKind::OqsMuonq01, ..) => home_care::receive(e, req, Care::Online).await,
            (MessageKind::OqsMuonq02, ..) => home_care::download(e, req, Care::Online).await,
            (MessageKind::OqsMutic01, ..) => medical_aid::receive(e, req).await,
            (MessageKind::OqsMutic02, ..) => medical_aid::download(e, req).await,
            (MessageKind::YzkSiquc01, Some(m), _) => {
                onshi_medication::yzk_siquc01::answer(m, req).await
            }
            (MessageKind::TkkSiquc01, _, Some(c)) => {
                onshi_checkup::tkk_siquc01::answer(c, req).await
            }
            (MessageKind::YzkSiquc01 | MessageKind::TkkSiquc01, ..) => Reply::unsupported(&req),
        }
    }
}
