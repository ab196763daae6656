//! The qualification decision (資格有効性, OQSCD006) for one search on one date. Pure: no I/O, no clock.
//!
//! 1. Candidates: qualifications printed with the requested 保険者番号・記号・番号 (and 枝番 when given) whose
//!    birth date matches. None → **4 該当資格なし**.
//! 2. Each candidate's state on the date, from the version in force then: *valid* (資格取得日 ≤ date <
//!    資格喪失日, and the card not expired when `card_expiry_invalidates`), *lost* (date ≥ 資格喪失日), *expired*
//!    (card past its 有効終了年月日) or *not yet* (before 資格取得日 / not registered for that date).
//! 3. Exactly one valid → **1 有効**; several valid (e.g. twins without 枝番) → **5 複数該当**, all listed.
//! 4. None valid → the most recent candidate is reported: lost and the same person holds another qualification
//!    valid on the date → **3 無効（新しい資格あり）**; otherwise **2 無効**.

use onshi_platform::config::EligibilityRules;
use onshi_wire::codes::QualificationValidity;
use onshi_wire::ids::Date;
use onshi_wire::msg::oqs_siquc01::SearchKeys;
use onshi_wire::record::QualificationRecord;

use std::sync::Arc;

use crate::registry::{Qual, Registry};

/// The state of one qualification on one date.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum State {
    Valid,
    Lost,
    Expired,
    NotYet,
}

impl State {
    /// The state as the JSON APIs name it.
    pub fn label(self) -> &'static str {
        match self {
            State::Valid => "valid",
            State::Lost => "lost",
            State::Expired => "expired",
            State::NotYet => "not_yet",
        }
    }
}

/// The record that describes a qualification on `on`, and whether one was in force then.
fn record_on(q: &Qual, on: Date) -> (&Arc<QualificationRecord>, bool) {
    match q.on(on) {
        Some(v) => (&v.record, true),
        None => (&q.first().record, false),
    }
}

/// The state of a qualification on `on`.
pub fn state(q: &Qual, on: Date, rules: &EligibilityRules) -> State {
    let (r, in_force) = record_on(q, on);
    if !in_force || on < r.qualification_date {
        return State::NotYet;
    }
    if r.disqualification_date.is_some_and(|d| on >= d) {
        return State::Lost;
    }
    if rules.card_expiry_invalidates && r.card_expires.is_some_and(|e| on > e) {
        return State::Expired;
    }
    State::Valid
}

/// The outcome of a search.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub validity: QualificationValidity,
    /// The records to report (in force on the date), in a stable order.
    pub results: Vec<Arc<QualificationRecord>>,
    /// Set when the one valid card expires within the warning window.
    pub expiring: Option<Date>,
}

pub fn decide(reg: &Registry, keys: &SearchKeys, on: Date, rules: &EligibilityRules) -> Decision {
    let mut candidates: Vec<(Qual, State)> = reg
        .by_card(&keys.insurer, &keys.symbol, &keys.number)
        .filter(|q| keys.branch.is_none_or(|b| q.first().record.branch == b))
        .filter(|q| record_on(q, on).0.birth_date == keys.birthdate)
        .map(|q| {
            let s = state(&q, on, rules);
            (q, s)
        })
        .collect();
    candidates.sort_by(|a, b| a.0.id.cmp(&b.0.id));
    if candidates.is_empty() {
        return Decision {
            validity: QualificationValidity::NotFound,
            results: vec![],
            expiring: None,
        };
    }
    let valid: Vec<&Qual> = candidates
        .iter()
        .filter(|(_, s)| *s == State::Valid)
        .map(|(q, _)| q)
        .collect();
    match valid.len() {
        1 => {
            let r = record_on(valid[0], on).0.clone();
            let expiring = r.card_expires.filter(|e| {
                rules.expiry_warning_days > 0 && *e < on.add_days(rules.expiry_warning_days)
            });
            return Decision {
                validity: QualificationValidity::Valid,
                results: vec![r],
                expiring,
            };
        }
        n if n > 1 => {
            return Decision {
                validity: QualificationValidity::Multiple,
                results: valid.iter().map(|q| record_on(q, on).0.clone()).collect(),
                expiring: None,
            };
        }
        _ => {}
    }
    // No valid candidate: report the most relevant one (lost before expired before not-yet; latest start).
    let (q, s) = candidates
        .iter()
        .min_by_key(|(q, s)| (*s, std::cmp::Reverse(record_on(q, on).0.qualification_date)))
        .expect("non-empty");
    let has_newer = *s == State::Lost
        && reg
            .of_person(&q.person_id)
            .any(|other| other.id != q.id && state(&other, on, rules) == State::Valid);
    Decision {
        validity: if has_newer {
            QualificationValidity::InvalidNewExists
        } else {
            QualificationValidity::Invalid
        },
        results: vec![record_on(q, on).0.clone()],
        expiring: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use onshi_wire::codes::{LimitConsent, ReasonOfLoss};
    use onshi_wire::ids::{BranchNumber, CardNumber, CardSymbol, InsurerNumber};
    use proptest::prelude::*;

    fn d(s: &str) -> Date {
        Date::parse(s).unwrap()
    }

    fn rec(
        person: &str,
        insurer: &str,
        number: &str,
        branch: &str,
        birth: &str,
    ) -> QualificationRecord {
        serde_json::from_value(serde_json::json!({
            "person_id": person, "insurer_number": insurer, "insurer_name": "保険者",
            "card_classification": "01", "symbol": "10", "number": number, "branch": branch,
            "personal_family": "1", "name": "氏名", "sex": "1", "birth_date": birth,
            "qualification_date": "20200401"
        }))
        .unwrap()
    }

    fn keys(insurer: &str, number: &str, branch: Option<&str>, birth: &str) -> SearchKeys {
        SearchKeys {
            insurer: InsurerNumber::parse(insurer).unwrap(),
            symbol: CardSymbol::parse("10").unwrap(),
            number: CardNumber::parse(number).unwrap(),
            branch: branch.map(|b| BranchNumber::parse(b).unwrap()),
            birthdate: d(birth),
            limit_consent: LimitConsent::NotConsented,
        }
    }

    fn add(reg: &mut Registry, seq: i64, eff: &str, r: QualificationRecord) {
        reg.apply_qualification(seq, d(eff), r).unwrap();
    }

    const A: &str = "06130488";
    const B: &str = "01320027";

    #[test]
    fn valid_not_found_and_birthdate_mismatch() {
        let mut reg = Registry::default();
        add(&mut reg, 1, "20200401", rec("p1", A, "1", "00", "19800101"));
        let rules = EligibilityRules::default();
        let k = keys(A, "1", None, "19800101");
        assert_eq!(
            decide(&reg, &k, d("20261120"), &rules).validity,
            QualificationValidity::Valid
        );
        assert_eq!(
            decide(&reg, &keys(A, "1", None, "19800102"), d("20261120"), &rules).validity,
            QualificationValidity::NotFound
        );
        assert_eq!(
            decide(&reg, &keys(A, "2", None, "19800101"), d("20261120"), &rules).validity,
            QualificationValidity::NotFound
        );
        // Before the qualification started: registered but not in force → 2.
        assert_eq!(
            decide(&reg, &k, d("20200331"), &rules).validity,
            QualificationValidity::Invalid
        );
    }

    #[test]
    fn job_change_gives_3_and_plain_loss_gives_2() {
        let mut reg = Registry::default();
        let old = rec("p1", A, "1", "00", "19800101");
        add(&mut reg, 1, "20200401", old.clone());
        let mut ended = old;
        ended.disqualification_date = Some(d("20261001"));
        ended.loss_reason = Some(ReasonOfLoss::OtherInsurance);
        add(&mut reg, 2, "20261001", ended);
        let mut new = rec("p1", B, "9", "00", "19800101");
        new.qualification_date = d("20261001");
        add(&mut reg, 3, "20261001", new);
        let rules = EligibilityRules::default();
        let k = keys(A, "1", Some("00"), "19800101");
        let before = decide(&reg, &k, d("20260930"), &rules);
        assert_eq!(before.validity, QualificationValidity::Valid);
        assert_eq!(
            before.results[0].disqualification_date, None,
            "the version of that date"
        );
        let after = decide(&reg, &k, d("20261001"), &rules);
        assert_eq!(after.validity, QualificationValidity::InvalidNewExists);
        assert_eq!(
            after.results[0].loss_reason,
            Some(ReasonOfLoss::OtherInsurance)
        );
        // Without the new qualification it is a plain 2.
        let mut reg2 = Registry::default();
        let mut lost = rec("p2", A, "5", "00", "19700101");
        lost.disqualification_date = Some(d("20260101"));
        lost.loss_reason = Some(ReasonOfLoss::Death);
        add(&mut reg2, 1, "20200401", lost);
        assert_eq!(
            decide(
                &reg2,
                &keys(A, "5", None, "19700101"),
                d("20260501"),
                &rules
            )
            .validity,
            QualificationValidity::Invalid
        );
    }

    #[test]
    fn twins_without_branch_give_5_and_branch_disambiguates() {
        let mut reg = Registry::default();
        add(&mut reg, 1, "20200401", rec("t1", A, "7", "01", "20150505"));
        add(&mut reg, 2, "20200401", rec("t2", A, "7", "02", "20150505"));
        add(&mut reg, 3, "20200401", rec("m", A, "7", "00", "19850101"));
        let rules = EligibilityRules::default();
        let multi = decide(&reg, &keys(A, "7", None, "20150505"), d("20261120"), &rules);
        assert_eq!(multi.validity, QualificationValidity::Multiple);
        assert_eq!(multi.results.len(), 2);
        let one = decide(
            &reg,
            &keys(A, "7", Some("02"), "20150505"),
            d("20261120"),
            &rules,
        );
        assert_eq!(one.validity, QualificationValidity::Valid);
        assert_eq!(one.results[0].person_id, "t2");
        // The parent is found by birth date without 枝番.
        let p = decide(&reg, &keys(A, "7", None, "19850101"), d("20261120"), &rules);
        assert_eq!(p.validity, QualificationValidity::Valid);
    }

    #[test]
    fn expired_card_and_expiry_warning() {
        let mut reg = Registry::default();
        let mut r = rec("p1", A, "1", "00", "19800101");
        r.card_expires = Some(d("20270131"));
        add(&mut reg, 1, "20200401", r);
        let rules = EligibilityRules::default();
        let k = keys(A, "1", None, "19800101");
        let warn = decide(&reg, &k, d("20261120"), &rules);
        assert_eq!(warn.validity, QualificationValidity::Valid);
        assert_eq!(warn.expiring, Some(d("20270131")));
        assert_eq!(decide(&reg, &k, d("20260101"), &rules).expiring, None);
        assert_eq!(
            decide(&reg, &k, d("20270201"), &rules).validity,
            QualificationValidity::Invalid
        );
        let lenient = EligibilityRules {
            card_expiry_invalidates: false,
            ..rules
        };
        assert_eq!(
            decide(&reg, &k, d("20270201"), &lenient).validity,
            QualificationValidity::Valid
        );
    }

    proptest! {
        /// For a single qualification, the answer on any date follows its period exactly.
        #[test]
        fn validity_follows_the_qualification_period(start in 0i64..3000, len in 1i64..3000, probe in 0i64..7000) {
            let base = d("20150101");
            let mut r = rec("p", A, "1", "00", "19600101");
            r.qualification_date = base.add_days(start);
            r.disqualification_date = Some(base.add_days(start + len));
            r.loss_reason = Some(ReasonOfLoss::Other);
            let mut reg = Registry::default();
            add(&mut reg, 1, "20150101", r);
            let on = base.add_days(probe);
            let got = decide(&reg, &keys(A, "1", None, "19600101"), on, &EligibilityRules::default()).validity;
            let expect = if probe >= start && probe < start + len {
                QualificationValidity::Valid
            } else {
                QualificationValidity::Invalid
            };
            prop_assert_eq!(got, expect);
        }
    }
}
