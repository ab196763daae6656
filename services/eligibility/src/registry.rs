//! The eligibility service's read model: every qualification version and facility, in memory, indexed for the
//! answer path. It is built only from the insurer and portal change feeds (never their tables) and rebuilt from
//! them at start-up. See `docs/ARCHITECTURE.md` for why answers never wait on SQL.

use std::collections::HashMap;
use std::sync::Arc;

use onshi_platform::versioned::in_force;
use onshi_wire::ids::{CardNumber, CardSymbol, Date, InsurerNumber};
use onshi_wire::record::{FacilityRecord, QualificationRecord, TerminalCert};

/// One stored version of a qualification.
#[derive(Debug, Clone)]
pub struct QualVersion {
    pub seq: i64,
    pub effective_from: Date,
    pub record: Arc<QualificationRecord>,
}

/// All versions of one qualification (one individual-unit number), oldest first.
#[derive(Debug, Clone)]
pub struct Qual {
    pub id: String,
    pub person_id: String,
    pub versions: Vec<QualVersion>,
}

impl Qual {
    /// The version in force on `on`, if the qualification had been registered for that date.
    pub fn on(&self, on: Date) -> Option<&QualVersion> {
        in_force(&self.versions, on, |v| (v.effective_from, v.seq))
    }
    /// The earliest version (used for a qualification not yet in force on the date asked).
    pub fn first(&self) -> &QualVersion {
        &self.versions[0]
    }
    /// The version that describes the qualification on `on`: the one in force then, or else the earliest.
    pub fn shown_on(&self, on: Date) -> &QualVersion {
        self.on(on).unwrap_or_else(|| self.first())
    }
}

/// The in-memory registry.
#[derive(Debug, Default)]
pub struct Registry {
    quals: HashMap<String, Qual>,
    /// `保険者番号:記号:番号` → qualification ids (family members share it and differ by 枝番).
    by_card: HashMap<String, Vec<String>>,
    by_person: HashMap<String, Vec<String>>,
    facilities: HashMap<String, FacilityRecord>,
    /// 医療扶助: (designated facility, `YYYYMM`) → the qualifications with a ticket for it (in any version).
    tickets: HashMap<(String, String), Vec<String>>,
    /// Terminal certificate fingerprint → (facility code, certificate).
    certificates: HashMap<String, (String, TerminalCert)>,
    /// Highest applied sequence of each feed.
    pub insurer_seq: i64,
    pub portal_seq: i64,
}

/// The card-level lookup key (without 枝番).
pub fn card_key(insurer: &InsurerNumber, symbol: &CardSymbol, number: &CardNumber) -> String {
    format!("{}:{}:{}", insurer, symbol.as_str(), number.as_str())
}

impl Registry {
    /// Applies one qualification version from the insurer feed.
    pub fn apply_qualification(
        &mut self,
        seq: i64,
        id: &str,
        effective_from: Date,
        record: QualificationRecord,
    ) {
        self.insurer_seq = self.insurer_seq.max(seq);
        for t in &record.medical_tickets {
            let ids = self
                .tickets
                .entry((t.institution.as_str().to_string(), t.month.clone()))
                .or_default();
            if !ids.iter().any(|x| x == id) {
                ids.push(id.to_string());
            }
        }
        let version = QualVersion {
            seq,
            effective_from,
            record: Arc::new(record),
        };
        if let Some(q) = self.quals.get_mut(id) {
            q.versions.push(version);
            return;
        }
        let r = &version.record;
        let key = card_key(&r.insurer_number, &r.symbol, &r.number);
        self.by_card.entry(key).or_default().push(id.to_string());
        self.by_person
            .entry(r.person_id.clone())
            .or_default()
            .push(id.to_string());
        self.quals.insert(
            id.to_string(),
            Qual {
                id: id.to_string(),
                person_id: r.person_id.clone(),
                versions: vec![version],
            },
        );
    }

    /// Applies one facility version from the portal feed.
    pub fn apply_facility(&mut self, seq: i64, record: FacilityRecord) {
        self.portal_seq = self.portal_seq.max(seq);
        for c in &record.certificates {
            self.certificates.insert(
                c.sha256.clone(),
                (record.code.as_str().to_string(), c.clone()),
            );
        }
        self.facilities
            .insert(record.code.as_str().to_string(), record);
    }

    /// 医療扶助: the qualifications that ever had a ticket of `month` (`YYYYMM`) designating `facility`.
    pub fn with_tickets<'a>(
        &'a self,
        facility: &str,
        month: &str,
    ) -> impl Iterator<Item = &'a Qual> + 'a {
        self.tickets
            .get(&(facility.to_string(), month.to_string()))
            .into_iter()
            .flatten()
            .filter_map(|id| self.quals.get(id))
    }

    /// The facility and record of a terminal certificate, by fingerprint.
    pub fn certificate(&self, sha256: &str) -> Option<&(String, TerminalCert)> {
        self.certificates.get(sha256)
    }

    pub fn facility(&self, code: &str) -> Option<&FacilityRecord> {
        self.facilities.get(code)
    }

    /// Qualifications printed with this insurer, symbol and number.
    pub fn by_card(&self, key: &str) -> impl Iterator<Item = &Qual> {
        self.by_card
            .get(key)
            .into_iter()
            .flatten()
            .filter_map(|id| self.quals.get(id))
    }

    /// One qualification by id (`保険者番号:記号:番号:枝番`).
    pub fn qual(&self, id: &str) -> Option<&Qual> {
        self.quals.get(id)
    }

    /// Every qualification of one person.
    pub fn of_person<'a>(&'a self, person: &str) -> impl Iterator<Item = &'a Qual> + 'a {
        self.by_person
            .get(person)
            .into_iter()
            .flatten()
            .filter_map(|id| self.quals.get(id))
    }

    pub fn counts(&self) -> (usize, usize, usize) {
        (
            self.quals.len(),
            self.by_person.len(),
            self.facilities.len(),
        )
    }
}
