//! The consent service across processes: its internal API (`POST /internal/v1/consent/…`, operator role; one
//! struct per route in [`api`]) answered by [`Local`], and [`Remote`], which implements the ports
//! ([`CardReaderPort`], [`AccessPort`], [`HomeCarePort`]) by calling it. A refusal keeps its status
//! (`register` answers 404/409 as the local call would); an unreachable service is a 503 to the caller's caller.

use actix_web::{web, HttpResponse};
use chrono::{NaiveDate, NaiveDateTime};
use futures_util::future::BoxFuture;
use serde::{Deserialize, Serialize};

use onshi_platform::http::{ApiError, Core};
use onshi_platform::peer::{Call, Peer};
use onshi_platform::roles::{route, Access, RouteAccess};
use onshi_wire::ids::{Date, InstitutionCode};
use onshi_wire::msg::home_care::Care;

use crate::access::{Granted, Refused};
use crate::cards::{Card, Pin};
use crate::chain::Given;
use crate::home::HomePatient;
use crate::port::{AccessPort, CardReaderPort, HomeCarePort, Local};
use crate::Kind;

/// The routes and their questions.
pub mod api {
    use super::*;

    pub const CARD: &str = "/internal/v1/consent/card";
    pub const ENSURE_CERTIFICATE: &str = "/internal/v1/consent/ensure-certificate";
    pub const VERIFY_PIN: &str = "/internal/v1/consent/verify-pin";
    pub const REGISTER: &str = "/internal/v1/consent/register";
    pub const RECORD_CONSENTS: &str = "/internal/v1/consent/record-consents";
    pub const DISASTER_CONSENT: &str = "/internal/v1/consent/disaster-consent";
    pub const VIEW: &str = "/internal/v1/consent/view";
    pub const HOME_PATIENTS: &str = "/internal/v1/consent/home-patients";

    #[derive(Debug, Serialize, Deserialize)]
    pub struct Serial {
        pub serial: String,
    }

    #[derive(Debug, Serialize, Deserialize)]
    pub struct VerifyPin {
        pub serial: String,
        pub pin: String,
        pub now: NaiveDateTime,
    }

    #[derive(Debug, Serialize, Deserialize)]
    pub struct Register {
        pub serial: String,
        pub qualification: String,
        pub today: Date,
    }

    #[derive(Debug, Serialize, Deserialize)]
    pub struct DisasterConsent {
        pub person: String,
        pub facility: InstitutionCode,
        pub kinds: Vec<Kind>,
        pub now: NaiveDateTime,
    }

    #[derive(Debug, Serialize, Deserialize)]
    pub struct View {
        pub person: String,
        pub facility: InstitutionCode,
        pub required: Vec<Kind>,
        pub optional: Vec<Kind>,
        pub now: NaiveDateTime,
    }

    #[derive(Debug, Serialize, Deserialize)]
    pub struct HomePatients {
        pub facility: String,
        pub care: Care,
        pub from: NaiveDate,
        pub to: NaiveDate,
        pub now: NaiveDateTime,
    }
}

/// The consent service in another process.
pub struct Remote {
    pub peer: Peer,
}

impl CardReaderPort for Remote {
    fn card<'a>(&'a self, serial: &'a str) -> BoxFuture<'a, anyhow::Result<Option<Card>>> {
        let call = self.peer.call(
            Call::Query,
            api::CARD,
            &api::Serial {
                serial: serial.to_string(),
            },
        );
        Box::pin(async move { Ok(call.await?) })
    }

    fn ensure_certificate<'a>(&'a self, card: &'a Card) -> BoxFuture<'a, anyhow::Result<()>> {
        let call = self.peer.call(Call::Change, api::ENSURE_CERTIFICATE, card);
        Box::pin(async move { Ok(call.await?) })
    }

    fn verify_pin<'a>(
        &'a self,
        serial: &'a str,
        pin: &'a str,
        now: NaiveDateTime,
    ) -> BoxFuture<'a, anyhow::Result<Pin>> {
        let call = self.peer.call(
            Call::Change,
            api::VERIFY_PIN,
            &api::VerifyPin {
                serial: serial.to_string(),
                pin: pin.to_string(),
                now,
            },
        );
        Box::pin(async move { Ok(call.await?) })
    }

    fn register<'a>(
        &'a self,
        serial: &'a str,
        qualification: &'a str,
        today: Date,
    ) -> BoxFuture<'a, Result<(), ApiError>> {
        let call = self.peer.call(
            Call::Change,
            api::REGISTER,
            &api::Register {
                serial: serial.to_string(),
                qualification: qualification.to_string(),
                today,
            },
        );
        Box::pin(async move { Ok(call.await?) })
    }

    fn record_consents<'a>(&'a self, given: &'a [Given]) -> BoxFuture<'a, anyhow::Result<()>> {
        let call = self.peer.call(Call::Change, api::RECORD_CONSENTS, given);
        Box::pin(async move { Ok(call.await?) })
    }

    fn record_disaster_consent<'a>(
        &'a self,
        person: &'a str,
        facility: &'a InstitutionCode,
        kinds: &'a [Kind],
        now: NaiveDateTime,
    ) -> BoxFuture<'a, anyhow::Result<Option<i64>>> {
        let call = self.peer.call(
            Call::Change,
            api::DISASTER_CONSENT,
            &api::DisasterConsent {
                person: person.to_string(),
                facility: *facility,
                kinds: kinds.to_vec(),
                now,
            },
        );
        Box::pin(async move { Ok(call.await?) })
    }
}

impl AccessPort for Remote {
    fn view<'a>(
        &'a self,
        person: &'a str,
        facility: &'a InstitutionCode,
        required: &'a [Kind],
        optional: &'a [Kind],
        now: NaiveDateTime,
    ) -> BoxFuture<'a, anyhow::Result<Result<Granted, Refused>>> {
        let call = self.peer.call(
            Call::Change,
            api::VIEW,
            &api::View {
                person: person.to_string(),
                facility: *facility,
                required: required.to_vec(),
                optional: optional.to_vec(),
                now,
            },
        );
        Box::pin(async move { Ok(call.await?) })
    }
}

impl HomeCarePort for Remote {
    fn home_patients<'a>(
        &'a self,
        facility: &'a str,
        care: Care,
        (from, to): (NaiveDate, NaiveDate),
        now: NaiveDateTime,
    ) -> BoxFuture<'a, anyhow::Result<Vec<HomePatient>>> {
        let call = self.peer.call(
            Call::Query,
            api::HOME_PATIENTS,
            &api::HomePatients {
                facility: facility.to_string(),
                care,
                from,
                to,
                now,
            },
        );
        Box::pin(async move { Ok(call.await?) })
    }
}

/// The internal consent API: for the other services of the deployment (operator role).
pub const ROUTES: &[RouteAccess] = &[
    route("POST", api::CARD, Access::Operator),
    route("POST", api::ENSURE_CERTIFICATE, Access::Operator),
    route("POST", api::VERIFY_PIN, Access::Operator),
    route("POST", api::REGISTER, Access::Operator),
    route("POST", api::RECORD_CONSENTS, Access::Operator),
    route("POST", api::DISASTER_CONSENT, Access::Operator),
    route("POST", api::VIEW, Access::Operator),
    route("POST", api::HOME_PATIENTS, Access::Operator),
];

/// The internal routes (need `web::Data<Core>`).
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route(api::CARD, web::post().to(card))
        .route(api::ENSURE_CERTIFICATE, web::post().to(ensure_certificate))
        .route(api::VERIFY_PIN, web::post().to(verify_pin))
        .route(api::REGISTER, web::post().to(register))
        .route(api::RECORD_CONSENTS, web::post().to(record_consents))
        .route(api::DISASTER_CONSENT, web::post().to(disaster_consent))
        .route(api::VIEW, web::post().to(view))
        .route(api::HOME_PATIENTS, web::post().to(home_patients));
}

type Answer = Result<HttpResponse, ApiError>;

fn local(core: &web::Data<Core>) -> Local {
    Local {
        core: core.get_ref().clone(),
    }
}

fn ok<T: Serialize>(value: T) -> Answer {
    Ok(HttpResponse::Ok().json(value))
}

async fn card(core: web::Data<Core>, q: web::Json<api::Serial>) -> Answer {
    ok(local(&core).card(&q.serial).await?)
}

async fn ensure_certificate(core: web::Data<Core>, q: web::Json<Card>) -> Answer {
    ok(local(&core).ensure_certificate(&q).await?)
}

async fn verify_pin(core: web::Data<Core>, q: web::Json<api::VerifyPin>) -> Answer {
    ok(local(&core).verify_pin(&q.serial, &q.pin, q.now).await?)
}

async fn register(core: web::Data<Core>, q: web::Json<api::Register>) -> Answer {
    ok(local(&core)
        .register(&q.serial, &q.qualification, q.today)
        .await?)
}

async fn record_consents(core: web::Data<Core>, q: web::Json<Vec<Given>>) -> Answer {
    ok(local(&core).record_consents(&q).await?)
}

async fn disaster_consent(core: web::Data<Core>, q: web::Json<api::DisasterConsent>) -> Answer {
    ok(local(&core)
        .record_disaster_consent(&q.person, &q.facility, &q.kinds, q.now)
        .await?)
}

async fn view(core: web::Data<Core>, q: web::Json<api::View>) -> Answer {
    ok(local(&core)
        .view(&q.person, &q.facility, &q.required, &q.optional, q.now)
        .await?)
}

async fn home_patients(core: web::Data<Core>, q: web::Json<api::HomePatients>) -> Answer {
    ok(local(&core)
        .home_patients(&q.facility, q.care, (q.from, q.to), q.now)
        .await?)
}
