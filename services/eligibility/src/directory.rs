//! The [`Directory`] the other services ask about people and facilities, answered from the read model: in one
//! process through the traits, from another through the internal API (`POST /internal/v1/directory/…`, operator
//! role; questions and answers are `onshi_platform::directory::api`).

use actix_web::{web, HttpResponse};
use std::sync::Arc;

use onshi_platform::directory::{
    api, Answer, CardQuery, CurrentQualification, Directory, FacilityCheck, PersonRef,
    ReaderDirectory,
};
use onshi_platform::pki::PeerCert;
use onshi_platform::roles::{route, Access, RouteAccess};
use onshi_wire::codes::CodeTable;
use onshi_wire::ids::Date;
use onshi_wire::msg::FileError;
use onshi_wire::record::FacilityRecord;

use crate::{decide, gate, presentations, reference_numbers, Eligibility};

impl Eligibility {
    /// The person holding this card, when exactly one qualification matches (twins without 枝番: none).
    pub fn person_of_card(&self, c: &CardQuery) -> Option<PersonRef> {
        let (branch, birth) = (c.branch.as_deref(), c.birth);
        let reg = self.registry.read().expect("registry");
        let today = self.core.clock.today();
        let found: Vec<_> = reg
            .by_card(&c.insurer, &c.symbol, &c.number)
            .filter(|q| branch.is_none_or(|b| q.first().record.branch.as_string() == b))
            .filter(|q| birth.is_none_or(|d| q.first().record.birth_date == d))
            .collect();
        let [q] = found.as_slice() else { return None };
        let r = &q.shown_on(today).record;
        Some(PersonRef {
            qualification_id: q.id.clone(),
            person_id: q.person_id.clone(),
            name: r.name.clone(),
            kana: r.name_kana.clone(),
            birth: r.birth_date,
            sex: r.sex.code().to_string(),
        })
    }

    /// See [`Directory::facility`].
    pub fn facility_check(&self, code: &str, terminal: Option<&str>, today: Date) -> FacilityCheck {
        let reg = self.registry.read().expect("registry");
        let (encoding, check) =
            gate::check_facility(&reg, &self.core.config, code, terminal, today);
        FacilityCheck {
            encoding,
            refused: check.err(),
        }
    }

    /// See [`Directory::qualification_only`].
    pub fn is_qualification_only(&self, code: &str) -> bool {
        let reg = self.registry.read().expect("registry");
        reg.facility(code)
            .is_some_and(FacilityRecord::qualification_only)
    }

    /// See [`ReaderDirectory::current_qualification`].
    pub fn current_qualification(&self, person: &str, on: Date) -> Option<CurrentQualification> {
        let reg = self.registry.read().expect("registry");
        let rules = &self.core.config.eligibility.rules;
        reg.of_person(person)
            .map(|q| {
                let record = q.shown_on(on).record.clone();
                let valid = decide::state(&q, on, rules) == decide::State::Valid;
                (q, valid, record)
            })
            .max_by_key(|(_, valid, record)| (*valid, record.qualification_date))
            .map(|(q, valid, record)| CurrentQualification {
                id: q.id.clone(),
                valid,
                record: record.clone(),
            })
    }
}

impl Directory for Eligibility {
    fn person<'a>(&'a self, card: &'a CardQuery) -> Answer<'a, Option<PersonRef>> {
        let found = self.person_of_card(card);
        Box::pin(async move { Ok(found) })
    }

    fn facility<'a>(
        &'a self,
        code: &'a str,
        terminal: Option<&'a str>,
        today: Date,
    ) -> Answer<'a, FacilityCheck> {
        let check = self.facility_check(code, terminal, today);
        Box::pin(async move { Ok(check) })
    }

    fn qualification_only<'a>(&'a self, code: &'a str) -> Answer<'a, bool> {
        let only = self.is_qualification_only(code);
        Box::pin(async move { Ok(only) })
    }
}

impl ReaderDirectory for Eligibility {
    fn certificate<'a>(
        &'a self,
        peer: Option<&'a PeerCert>,
    ) -> Answer<'a, Result<Option<String>, FileError>> {
        let found = Eligibility::certificate(self, peer);
        Box::pin(async move { Ok(found) })
    }

    fn current_qualification<'a>(
        &'a self,
        person: &'a str,
        on: Date,
    ) -> Answer<'a, Option<CurrentQualification>> {
        let found = Eligibility::current_qualification(self, person, on);
        Box::pin(async move { Ok(found) })
    }

    fn reference_number<'a>(
        &'a self,
        facility: &'a str,
        person: &'a str,
    ) -> Answer<'a, Option<String>> {
        Box::pin(async move {
            reference_numbers::reference_for(&self.core.pool, facility, person)
                .await
                .map_err(|e| onshi_platform::peer::PeerError::Internal(e.into()))
        })
    }

    fn presented<'a>(
        &'a self,
        facility: &'a str,
        person: &'a str,
        at: chrono::NaiveDateTime,
    ) -> Answer<'a, ()> {
        self.presentations
            .record(facility, person, at, presentations::How::MyNumberCard);
        Box::pin(async { Ok(()) })
    }
}

/// The internal directory API: every route for the other services of the deployment (operator role).
pub const ROUTES: &[RouteAccess] = &[
    route("POST", api::PERSON, Access::Operator),
    route("POST", api::PERSONS, Access::Operator),
    route("POST", api::FACILITY, Access::Operator),
    route("POST", api::QUALIFICATION_ONLY, Access::Operator),
    route("POST", api::CERTIFICATE, Access::Operator),
    route("POST", api::CURRENT_QUALIFICATION, Access::Operator),
    route("POST", api::REFERENCE_NUMBER, Access::Operator),
    route("POST", api::PRESENTED, Access::Operator),
];

type E = web::Data<Arc<Eligibility>>;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route(api::PERSON, web::post().to(person))
        .route(api::PERSONS, web::post().to(persons))
        .route(api::FACILITY, web::post().to(facility))
        .route(api::QUALIFICATION_ONLY, web::post().to(qualification_only))
        .route(api::CERTIFICATE, web::post().to(certificate))
        .route(api::CURRENT_QUALIFICATION, web::post().to(current))
        .route(api::REFERENCE_NUMBER, web::post().to(reference_number))
        .route(api::PRESENTED, web::post().to(presented));
}

async fn persons(e: E, q: web::Json<Vec<CardQuery>>) -> HttpResponse {
    let found: Vec<_> = q.iter().map(|c| e.person_of_card(c)).collect();
    HttpResponse::Ok().json(found)
}

async fn person(e: E, q: web::Json<CardQuery>) -> HttpResponse {
    HttpResponse::Ok().json(e.person_of_card(&q))
}

async fn facility(e: E, q: web::Json<api::Facility>) -> HttpResponse {
    HttpResponse::Ok().json(e.facility_check(&q.code, q.terminal.as_deref(), q.today))
}

async fn qualification_only(e: E, q: web::Json<api::Code>) -> HttpResponse {
    HttpResponse::Ok().json(e.is_qualification_only(&q.code))
}

async fn certificate(e: E, q: web::Json<api::Certificate>) -> HttpResponse {
    let peer = q.into_inner().sha256.map(|sha256| PeerCert { sha256 });
    HttpResponse::Ok().json(Eligibility::certificate(&e, peer.as_ref()))
}

async fn current(e: E, q: web::Json<api::CurrentOf>) -> HttpResponse {
    let found = Eligibility::current_qualification(&e, &q.person, q.on).map(|c| api::Current {
        id: c.id,
        valid: c.valid,
        record: (*c.record).clone(),
    });
    HttpResponse::Ok().json(found)
}

async fn reference_number(
    e: E,
    q: web::Json<api::ReferenceOf>,
) -> Result<HttpResponse, onshi_platform::http::ApiError> {
    let found = reference_numbers::reference_for(&e.core.pool, &q.facility, &q.person).await?;
    Ok(HttpResponse::Ok().json(found))
}

async fn presented(e: E, q: web::Json<api::Presented>) -> HttpResponse {
    e.presentations.record(
        &q.facility,
        &q.person,
        q.at,
        presentations::How::MyNumberCard,
    );
    HttpResponse::Ok().json(())
}
