//! The eligibility service's read model: every qualification version and facility, in memory, indexed for the
//! answer path. It is built only from the insurer and portal change feeds (never their tables), persisted with
//! its feed positions (`snapshot`) and caught up from them at start-up. See `docs/ARCHITECTURE.md` for why
//! answers never wait on SQL.
//!
//! Qualifications are held compactly ([`crate::packed`]): one slot per qualification with its first version
//! packed inline, later versions in a side list, the card and person indexes as hash tables of slot numbers
//! whose entries chain the family members of a card and the qualifications of a person. A lookup unpacks the
//! few qualifications it touches into owned [`Qual`]s.

use std::collections::HashMap;
use std::hash::BuildHasher;
use std::sync::Arc;

use hashbrown::DefaultHashBuilder;

use onshi_platform::versioned::in_force;
use onshi_wire::ids::{BranchNumber, CardNumber, CardSymbol, Date, InsurerNumber};
use onshi_wire::record::{FacilityRecord, MedicalTicket, QualificationRecord, TerminalCert};

use crate::index::Index;
use crate::packed::{self, Full, Insurers, Packed, Strings, NONE};

/// One version of a qualification.
#[derive(Debug, Clone)]
pub struct QualVersion {
    /// Position in feed order (0 for the first version).
    pub order: i64,
    pub effective_from: Date,
    pub record: Arc<QualificationRecord>,
}

/// All versions of one qualification (one individual-unit number), oldest first, unpacked from the read model.
#[derive(Debug, Clone)]
pub struct Qual {
    pub id: String,
    pub person_id: String,
    pub versions: Vec<QualVersion>,
}

impl Qual {
    /// The version in force on `on`, if the qualification had been registered for that date.
    pub fn on(&self, on: Date) -> Option<&QualVersion> {
        in_force(&self.versions, on, |v| (v.effective_from, v.order))
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

/// One qualification: its person, the next slot of the same card, its first version.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Slot {
    pub person: u32,
    pub next_card: u32,
    pub first: Packed,
}

/// A second or later version, and the next one of the same qualification.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Later {
    pub next: u32,
    pub packed: Packed,
}

/// The in-memory registry.
#[derive(Default)]
pub struct Registry {
    pub(crate) strings: Strings,
    pub(crate) insurers: Insurers,
    pub(crate) slots: Vec<Slot>,
    pub(crate) later: Vec<Later>,
    /// Slot → its first later version.
    pub(crate) later_of: hashbrown::HashMap<u32, u32>,
    /// Slot → the next slot of the same person (most persons have one qualification: kept aside).
    pub(crate) next_person: hashbrown::HashMap<u32, u32>,
    /// First slot of each card (保険者番号, 記号, 番号); family members follow through `next_card`.
    by_card: Index,
    /// First slot of each person; their other qualifications follow through `next_person`.
    by_person: Index,
    hasher: DefaultHashBuilder,
    pub(crate) facilities: HashMap<String, FacilityRecord>,
    /// 医療扶助: (designated facility, `YYYYMM`) → the slots with a ticket for it (in any version).
    tickets: HashMap<(String, String), Vec<u32>>,
    /// Terminal certificate fingerprint → (facility code, certificate).
    certificates: HashMap<String, (String, TerminalCert)>,
    /// Highest applied sequence of each feed, and the id of the row there (to recognise the same feed when a
    /// persisted read model is loaded).
    pub insurer_seq: i64,
    pub portal_seq: i64,
    pub insurer_last: String,
    pub portal_last: String,
}

impl Registry {
    /// Makes room for `n` more qualifications (before a large catch-up, so the slots are not over-allocated).
    pub fn reserve(&mut self, n: usize) {
        self.slots.reserve_exact(n);
    }

    /// Fits the indexes to what they hold (after a large catch-up).
    pub fn shrink(&mut self) {
        self.strings.shrink();
        let (slots, strings, insurers, hasher) =
            (&self.slots, &self.strings, &self.insurers, &self.hasher);
        self.by_person
            .shrink(|i| hasher.hash_one(strings.get(slots[i as usize].person)));
        self.by_card.shrink(|i| {
            let f = &slots[i as usize].first;
            hasher.hash_one((insurers.number(f.insurer), f.symbol, f.number))
        });
        self.later.shrink_to_fit();
        self.later_of.shrink_to_fit();
        self.next_person.shrink_to_fit();
    }

    fn card_hash(&self, insurer: InsurerNumber, symbol: u32, number: u32) -> u64 {
        self.hasher.hash_one((insurer, symbol, number))
    }

    fn slot_card_hash(&self, s: &Slot) -> u64 {
        self.card_hash(
            self.insurers.number(s.first.insurer),
            s.first.symbol,
            s.first.number,
        )
    }

    fn same_card(&self, s: &Slot, insurer: InsurerNumber, symbol: u32, number: u32) -> bool {
        s.first.symbol == symbol
            && s.first.number == number
            && self.insurers.number(s.first.insurer) == insurer
    }

    /// The first slot of a card.
    fn card_head(&self, insurer: InsurerNumber, symbol: u32, number: u32) -> Option<u32> {
        let hash = self.card_hash(insurer, symbol, number);
        self.by_card.find(hash, |i| {
            self.same_card(&self.slots[i as usize], insurer, symbol, number)
        })
    }

    /// The first slot of a person.
    fn person_head(&self, person: &str) -> Option<u32> {
        let hash = self.hasher.hash_one(person);
        self.by_person.find(hash, |i| {
            self.strings.get(self.slots[i as usize].person) == person
        })
    }

    /// The slots of one card from `head`, family members in the order they came.
    fn card_chain(&self, head: Option<u32>) -> impl Iterator<Item = u32> + '_ {
        std::iter::successors(head, move |&i| {
            Some(self.slots[i as usize].next_card).filter(|&n| n != NONE)
        })
    }

    /// The slots of one person from `head`, in the order they came.
    fn person_chain(&self, head: Option<u32>) -> impl Iterator<Item = u32> + '_ {
        std::iter::successors(head, move |i| self.next_person.get(i).copied())
    }

    /// Applies one qualification version from the insurer feed. The qualification is the record's
    /// individual-unit number (the insurer's feed id).
    pub fn apply_qualification(
        &mut self,
        seq: i64,
        effective_from: Date,
        record: QualificationRecord,
    ) -> Result<(), Full> {
        self.insurer_seq = self.insurer_seq.max(seq);
        let packed = packed::pack(
            &record,
            effective_from,
            &mut self.strings,
            &mut self.insurers,
        )?;
        let insurer = record.insurer_number;
        let head = self.card_head(insurer, packed.symbol, packed.number);
        let same = self
            .card_chain(head)
            .find(|&i| self.slots[i as usize].first.branch == packed.branch);
        let slot = match same {
            Some(i) => {
                self.push_later(i, packed);
                i
            }
            None => self.push_slot(&record.person_id, head, packed)?,
        };
        for t in &record.medical_tickets {
            self.note_ticket(slot, t);
        }
        Ok(())
    }

    fn push_later(&mut self, slot: u32, packed: Packed) {
        let at = self.later.len() as u32;
        self.later.push(Later { next: NONE, packed });
        match self.later_of.get(&slot).copied() {
            None => {
                self.later_of.insert(slot, at);
            }
            Some(mut i) => {
                while self.later[i as usize].next != NONE {
                    i = self.later[i as usize].next;
                }
                self.later[i as usize].next = at;
            }
        }
    }

    fn push_slot(&mut self, person: &str, card: Option<u32>, first: Packed) -> Result<u32, Full> {
        let at = self.slots.len() as u32;
        let person_head = self.person_head(person);
        let person = match person_head {
            Some(h) => self.slots[h as usize].person,
            None => self.strings.append(person)?,
        };
        self.slots.push(Slot {
            person,
            next_card: NONE,
            first,
        });
        match person_head {
            Some(h) => {
                let tail = self.person_chain(Some(h)).last().unwrap_or(h);
                self.next_person.insert(tail, at);
            }
            None => self.index_person(at),
        }
        match card {
            Some(h) => {
                let tail = self.card_chain(Some(h)).last().unwrap_or(h);
                self.slots[tail as usize].next_card = at;
            }
            None => self.index_card(at),
        }
        Ok(at)
    }

    fn index_person(&mut self, at: u32) {
        let (slots, strings, hasher) = (&self.slots, &self.strings, &self.hasher);
        let hash = hasher.hash_one(strings.get(slots[at as usize].person));
        self.by_person.insert(hash, at, |i| {
            hasher.hash_one(strings.get(slots[i as usize].person))
        });
    }

    fn index_card(&mut self, at: u32) {
        let hash = self.slot_card_hash(&self.slots[at as usize]);
        let (slots, insurers, hasher) = (&self.slots, &self.insurers, &self.hasher);
        self.by_card.insert(hash, at, |i| {
            let f = &slots[i as usize].first;
            hasher.hash_one((insurers.number(f.insurer), f.symbol, f.number))
        });
    }

    /// Builds the person and card indexes of slots loaded from a persisted read model; the chains are in the
    /// slots already, so only chain heads are indexed.
    pub(crate) fn index_loaded(&mut self) {
        let mut is_next = vec![(false, false); self.slots.len()];
        for &n in self.next_person.values() {
            is_next[n as usize].0 = true;
        }
        for s in &self.slots {
            if s.next_card != NONE {
                is_next[s.next_card as usize].1 = true;
            }
        }
        self.by_person = Index::with_capacity(is_next.iter().filter(|x| !x.0).count());
        self.by_card = Index::with_capacity(is_next.iter().filter(|x| !x.1).count());
        for (i, (person_next, card_next)) in is_next.into_iter().enumerate() {
            if !person_next {
                self.index_person(i as u32);
            }
            if !card_next {
                self.index_card(i as u32);
            }
        }
        self.tickets.clear();
        let mut found = Vec::new();
        for (i, s) in self.slots.iter().enumerate() {
            found.extend(s.first.tickets(&self.strings).map(|t| (i as u32, t)));
        }
        for (&slot, &first) in &self.later_of {
            let later = std::iter::successors(Some(first), |&i| {
                Some(self.later[i as usize].next).filter(|&n| n != NONE)
            });
            for i in later {
                let tickets = self.later[i as usize].packed.tickets(&self.strings);
                found.extend(tickets.map(|t| (slot, t)));
            }
        }
        for (slot, t) in found {
            self.note_ticket(slot, &t);
        }
    }

    fn note_ticket(&mut self, slot: u32, t: &MedicalTicket) {
        let slots = self
            .tickets
            .entry((t.institution.as_str().to_string(), t.month.clone()))
            .or_default();
        if !slots.contains(&slot) {
            slots.push(slot);
        }
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

    /// Every version of one slot, unpacked.
    fn unpack(&self, slot: u32) -> Qual {
        let s = &self.slots[slot as usize];
        let person = self.strings.get(s.person);
        let later = std::iter::successors(self.later_of.get(&slot).copied(), |&i| {
            Some(self.later[i as usize].next).filter(|&n| n != NONE)
        })
        .map(|i| &self.later[i as usize].packed);
        let versions: Vec<QualVersion> = std::iter::once(&s.first)
            .chain(later)
            .enumerate()
            .map(|(order, p)| QualVersion {
                order: order as i64,
                effective_from: p.effective_from(&self.strings),
                record: Arc::new(packed::unpack(p, person, &self.strings, &self.insurers)),
            })
            .collect();
        Qual {
            id: versions[0].record.individual_number().key(),
            person_id: person.to_string(),
            versions,
        }
    }

    /// 医療扶助: the qualifications that ever had a ticket of `month` (`YYYYMM`) designating `facility`.
    pub fn with_tickets<'a>(
        &'a self,
        facility: &str,
        month: &str,
    ) -> impl Iterator<Item = Qual> + 'a {
        self.tickets
            .get(&(facility.to_string(), month.to_string()))
            .into_iter()
            .flatten()
            .map(|&i| self.unpack(i))
    }

    /// The facility and record of a terminal certificate, by fingerprint.
    pub fn certificate(&self, sha256: &str) -> Option<&(String, TerminalCert)> {
        self.certificates.get(sha256)
    }

    pub fn facility(&self, code: &str) -> Option<&FacilityRecord> {
        self.facilities.get(code)
    }

    /// Qualifications printed with this insurer, symbol and number (family members differ by 枝番).
    pub fn by_card(
        &self,
        insurer: &InsurerNumber,
        symbol: &CardSymbol,
        number: &CardNumber,
    ) -> impl Iterator<Item = Qual> + '_ {
        let head = match (
            self.strings.find(symbol.as_str()),
            self.strings.find(number.as_str()),
        ) {
            (Some(s), Some(n)) => self.card_head(*insurer, s, n),
            _ => None,
        };
        self.card_chain(head).map(|i| self.unpack(i))
    }

    /// One qualification by id (`保険者番号:記号:番号:枝番`).
    pub fn qual(&self, id: &str) -> Option<Qual> {
        let (rest, branch) = id.rsplit_once(':')?;
        let (rest, number) = rest.rsplit_once(':')?;
        let (insurer, symbol) = rest.split_once(':')?;
        let branch = BranchNumber::parse(branch).ok()?;
        let insurer = InsurerNumber::parse(insurer).ok()?;
        let (s, n) = (self.strings.find(symbol)?, self.strings.find(number)?);
        let head = self.card_head(insurer, s, n);
        self.card_chain(head)
            .find(|&i| self.slots[i as usize].first.branch == branch.value())
            .map(|i| self.unpack(i))
    }

    /// Every qualification of one person.
    pub fn of_person<'a>(&'a self, person: &str) -> impl Iterator<Item = Qual> + 'a {
        let head = self.person_head(person);
        self.person_chain(head).map(|i| self.unpack(i))
    }

    /// (qualifications, persons, facilities).
    pub fn counts(&self) -> (usize, usize, usize) {
        (
            self.slots.len(),
            self.by_person.len(),
            self.facilities.len(),
        )
    }

    /// Bytes the qualifications take in memory (arena, tables, slots and indexes, with their spare room).
    pub fn qualification_bytes(&self) -> usize {
        use std::mem::size_of;
        self.strings.heap_bytes()
            + self.insurers.heap_bytes()
            + self.slots.capacity() * size_of::<Slot>()
            + self.later.capacity() * size_of::<Later>()
            + self.later_of.allocation_size()
            + self.next_person.allocation_size()
            + self.by_card.allocation_size()
            + self.by_person.allocation_size()
            + self
                .tickets
                .values()
                .map(|v| v.capacity() * 4 + 64)
                .sum::<usize>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn record(person: u8, number: u8, branch: u8, name: u8) -> QualificationRecord {
        serde_json::from_value(serde_json::json!({
            "person_id": format!("p{person}"), "insurer_number": "06130488", "insurer_name": "保険者",
            "card_classification": "01", "symbol": "10", "number": number.to_string(),
            "branch": format!("{branch:02}"), "name": format!("氏名{name}"), "sex": "1",
            "birth_date": "19800101", "qualification_date": "20200401",
            "address": format!("東京都千代田区{}丁目", name % 3)
        }))
        .unwrap()
    }

    proptest! {
        /// The packed registry answers every lookup as a plain list of what was applied would.
        #[test]
        fn lookups_agree_with_a_plain_list(
            rows in proptest::collection::vec((0u8..6, 0u8..5, 0u8..3, 0u8..4), 1..60)
        ) {
            let mut reg = Registry::default();
            let mut applied: Vec<(String, QualificationRecord)> = Vec::new();
            for (seq, &(person, number, branch, name)) in rows.iter().enumerate() {
                let r = record(person, number, branch, name);
                // One qualification belongs to one person: the first to register it keeps it.
                let id = r.individual_number().key();
                let r = match applied.iter().find(|(i, _)| *i == id) {
                    Some((_, first)) => QualificationRecord { person_id: first.person_id.clone(), ..r },
                    None => r,
                };
                reg.apply_qualification(seq as i64 + 1, Date::parse("20200401").unwrap(), r.clone())
                    .unwrap();
                applied.push((id, r));
            }
            let versions = |id: &str| -> Vec<QualificationRecord> {
                applied.iter().filter(|(i, _)| i == id).map(|(_, r)| r.clone()).collect()
            };
            let mut ids: Vec<&String> = applied.iter().map(|(i, _)| i).collect();
            ids.dedup();
            for (id, r) in &applied {
                let q = reg.qual(id).unwrap();
                let got: Vec<QualificationRecord> =
                    q.versions.iter().map(|v| v.record.as_ref().clone()).collect();
                prop_assert_eq!(got, versions(id));
                let card: Vec<String> = reg.by_card(&r.insurer_number, &r.symbol, &r.number).map(|q| q.id).collect();
                let mut want: Vec<String> = Vec::new();
                for (i, x) in &applied {
                    if x.number == r.number && !want.contains(i) {
                        want.push(i.clone());
                    }
                }
                prop_assert_eq!(card, want);
                let of_person: Vec<String> = reg.of_person(&r.person_id).map(|q| q.id).collect();
                let mut want: Vec<String> = Vec::new();
                for (i, x) in &applied {
                    if x.person_id == r.person_id && !want.contains(i) {
                        want.push(i.clone());
                    }
                }
                prop_assert_eq!(of_person, want);
            }
            prop_assert!(reg.qual("06130488:10:99:00").is_none());
            prop_assert!(reg.of_person("nobody").next().is_none());
        }
    }

    #[test]
    fn a_slot_is_64_bytes() {
        assert_eq!(std::mem::size_of::<Slot>(), 64);
    }
}
