//! Records that registries publish on their change feeds: the insurer's qualification record (one per
//! individual-unit insured number) and the portal's facility record.
//!
//! A record is a full snapshot; every change is a new version. The JSON form is the registration format of the
//! insurer API and bulk files (documented field by field in `docs/INSURER.md`) and the feed payload.

use serde::{Deserialize, Serialize};

use crate::codes::{
    InsuredCardClassification, LimitCertificateClassification, LimitCertificateFlag,
    MedicalTreatmentType, PersonalFamily, ReasonOfLoss, Sex, SingleOrCombinedUse,
    SpecificDiseaseCategory, StatusOfElderlyMedicalCare, StatusOfInfection,
    StatusOfPrefecturalExpenses, StatusOfSocialInsurance, TicketType,
};
use crate::ids::{
    is_halfwidth_kana, BranchNumber, CardNumber, CardSymbol, Date, FacilityKind, IndividualNumber,
    InstitutionCode, InsurerNumber, PostalCode,
};
use crate::xml::Encoding;

/// 高齢受給者証 (70–74).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ElderlyRecipient {
    pub issued: Date,
    pub valid_from: Date,
    pub valid_to: Date,
    /// 一部負担金の割合 in percent: 20 or 30.
    pub ratio_percent: u8,
}

/// 限度額適用認定証 (one certificate; a record may hold past and current ones).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitCertificate {
    pub classification: LimitCertificateClassification,
    /// 適用区分 (OQSCD012).
    pub flag: LimitCertificateFlag,
    pub issued: Date,
    pub valid_from: Date,
    pub valid_to: Date,
    /// 長期入院該当年月日.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub long_term_date: Option<Date>,
}

/// 特定疾病療養受療証.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpecificDisease {
    pub category: SpecificDiseaseCategory,
    pub issued: Date,
    pub valid_from: Date,
    pub valid_to: Date,
    /// 自己負担限度額 (yen per month, e.g. 10000 or 20000).
    pub self_pay_yen: u32,
}

/// A 医療券 or 調剤券 of 医療扶助 for one treatment month, as the welfare office (福祉事務所) registers it (reference
/// §2.3 `PublicExpenseResultList/MedicalTicketInfo`, OQSCD018–025).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MedicalTicket {
    /// 01 医療券, 02 調剤券.
    pub ticket_type: TicketType,
    /// 診療年月, `YYYYMM`.
    pub month: String,
    pub valid_from: Date,
    pub valid_to: Date,
    /// 交付番号.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issue_number: Option<String>,
    /// The designated medical institution (指定医療機関) the ticket is for.
    pub institution: InstitutionCode,
    pub institution_name: String,
    /// 調剤券: the institution whose prescription it fills.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prescriber: Option<InstitutionCode>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prescriber_name: Option<String>,
    /// 傷病名, at most 3.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub injuries: Vec<String>,
    /// 診療別 (OQSCD019).
    pub treatment_type: MedicalTreatmentType,
    /// 本人支払額 (yen).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub self_pay_yen: Option<u32>,
    /// 地区担当員名, 取扱担当者名.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub district_contact: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub handling_contact: Option<String>,
    /// 単独・併用別 (OQSCD020), 社会保険状況 (OQSCD021).
    pub single_or_combined: SingleOrCombinedUse,
    pub social_insurance: StatusOfSocialInsurance,
    /// 感染症法第37条の2, 後期高齢者医療, 都道府県費 (OQSCD023–025).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub infection: Option<StatusOfInfection>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub elderly_care: Option<StatusOfElderlyMedicalCare>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefectural: Option<StatusOfPrefecturalExpenses>,
    /// 備考, at most 3.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub remarks: Vec<String>,
}

/// A person's qualification as registered by the insurer (one card = one individual-unit number). A 医療扶助
/// recipient's (card classification `A1`) is registered by the welfare office: `insurer_number` is its
/// 公費負担者番号 (法別 12), `number` the 受給者番号, `insurer_name` the 福祉事務所名, with the month's tickets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QualificationRecord {
    /// The insurer's stable id of the person across qualifications (stands in for the 個人番号 link the real
    /// system uses); qualifications with the same person id belong to one individual.
    pub person_id: String,
    pub insurer_number: InsurerNumber,
    pub insurer_name: String,
    /// 被保険者証区分 (OQSCD010).
    pub card_classification: InsuredCardClassification,
    /// 記号 (may be empty, e.g. 後期高齢者).
    #[serde(default, skip_serializing_if = "CardSymbol::is_empty")]
    pub symbol: CardSymbol,
    /// 番号.
    pub number: CardNumber,
    /// 枝番.
    pub branch: BranchNumber,
    /// 本人・家族 (absent for 後期高齢者).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub personal_family: Option<PersonalFamily>,
    /// 被保険者氏名（世帯主氏名）.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub insured_name: Option<String>,
    /// 氏名 (full-width; a full-width space between family and given name).
    pub name: String,
    /// 氏名カナ in half-width katakana.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name_kana: Option<String>,
    /// 氏名（その他）: alias / 通称.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name_other: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name_other_kana: Option<String>,
    /// 性別 (card face): 1 男, 2 女.
    pub sex: Sex,
    /// 性別 (back-side notation), rarely used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sex2: Option<Sex>,
    pub birth_date: Date,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub postal_code: Option<PostalCode>,
    /// 資格取得年月日.
    pub qualification_date: Date,
    /// 資格喪失年月日 (the first day without qualification).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disqualification_date: Option<Date>,
    /// 資格喪失事由 (OQSCD008), required with a disqualification date.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub loss_reason: Option<ReasonOfLoss>,
    /// 交付年月日.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub card_issued: Option<Date>,
    /// 有効開始年月日.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub card_valid_from: Option<Date>,
    /// 有効終了年月日.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub card_expires: Option<Date>,
    /// 後期高齢者 一部負担割合 in percent (10, 20 or 30).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partial_contribution_percent: Option<u8>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub elderly_recipient: Option<ElderlyRecipient>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub limit_certificates: Vec<LimitCertificate>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub specific_diseases: Vec<SpecificDisease>,
    /// 医療扶助 only: the 医療券・調剤券 of each month.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub medical_tickets: Vec<MedicalTicket>,
}

fn text_ok(errors: &mut Vec<String>, field: &str, value: Option<&str>, max: usize, required: bool) {
    match value {
        None if required => errors.push(format!("{field}: required")),
        None => {}
        Some(v) if v.trim().is_empty() => errors.push(format!("{field}: empty")),
        Some(v) if v.chars().count() > max => {
            errors.push(format!("{field}: longer than {max} characters"))
        }
        Some(v) if v.chars().any(char::is_control) => {
            errors.push(format!("{field}: contains control characters"))
        }
        Some(_) => {}
    }
}

fn period_ok(errors: &mut Vec<String>, field: &str, from: Date, to: Date) {
    if to < from {
        errors.push(format!("{field}: valid_to is before valid_from"));
    }
}

impl QualificationRecord {
    /// A 医療扶助 recipient's record (card classification `A1`).
    pub fn is_medical_aid(&self) -> bool {
        self.card_classification == InsuredCardClassification::MedicalAid
    }

    /// The individual-unit number that identifies this qualification.
    pub fn individual_number(&self) -> IndividualNumber {
        IndividualNumber {
            insurer: self.insurer_number,
            symbol: self.symbol.clone(),
            number: self.number.clone(),
            branch: self.branch,
        }
    }

    /// Cross-field rules; every broken rule is reported (field: reason).
    pub fn check(&self) -> Vec<String> {
        let mut e = Vec::new();
        if self.person_id.is_empty()
            || self.person_id.len() > 64
            || !self
                .person_id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            e.push("person_id: 1-64 characters of A-Z a-z 0-9 - _".into());
        }
        text_ok(&mut e, "insurer_name", Some(&self.insurer_name), 100, true);
        text_ok(&mut e, "name", Some(&self.name), 100, true);
        text_ok(
            &mut e,
            "insured_name",
            self.insured_name.as_deref(),
            100,
            false,
        );
        text_ok(&mut e, "name_other", self.name_other.as_deref(), 100, false);
        text_ok(&mut e, "address", self.address.as_deref(), 200, false);
        for (field, kana) in [
            ("name_kana", &self.name_kana),
            ("name_other_kana", &self.name_other_kana),
        ] {
            if let Some(k) = kana {
                if !is_halfwidth_kana(k) || k.chars().count() > 100 {
                    e.push(format!(
                        "{field}: must be half-width katakana (e.g. ﾔﾏﾀﾞ ﾀﾛｳ)"
                    ));
                }
            }
        }
        if self.sex == Sex::Unset {
            e.push("sex: must be 1 (男) or 2 (女)".into());
        }
        if self.qualification_date < self.birth_date {
            e.push("qualification_date: before birth_date".into());
        }
        match (self.disqualification_date, self.loss_reason) {
            (Some(d), Some(_)) if d < self.qualification_date => {
                e.push("disqualification_date: before qualification_date".into())
            }
            (Some(_), None) => e.push("loss_reason: required with disqualification_date".into()),
            (None, Some(_)) => e.push("loss_reason: given without disqualification_date".into()),
            _ => {}
        }
        if let (Some(from), Some(to)) = (self.card_valid_from, self.card_expires) {
            if to < from {
                e.push("card_expires: before card_valid_from".into());
            }
        }
        let late = self.insurer_number.is_late_elderly();
        let aid = self.is_medical_aid();
        match (late, aid, self.personal_family) {
            (true, _, Some(_)) => {
                e.push("personal_family: not used for 後期高齢者 (法別 39)".into())
            }
            (false, false, None) => e.push("personal_family: required (1 本人, 2 家族)".into()),
            _ => {}
        }
        let public_aid_number = self.insurer_number.as_str().len() == 8
            && self.insurer_number.as_str().starts_with("12");
        if aid != public_aid_number {
            e.push(
                "card_classification: A1 (医療扶助) goes with a 公費負担者番号 of 法別 12, and only with it".into(),
            );
        }
        if aid {
            if !self.symbol.is_empty() {
                e.push("symbol: not used for 医療扶助".into());
            }
            if let Err(why) = crate::ids::check_recipient_number(self.number.as_str()) {
                e.push(format!("number: {why}"));
            }
        } else if !self.medical_tickets.is_empty() {
            e.push("medical_tickets: only for 医療扶助 (A1)".into());
        }
        for (i, t) in self.medical_tickets.iter().enumerate() {
            let f = format!("medical_tickets[{i}]");
            let month_ok = t.month.len() == 6
                && t.month.bytes().all(|b| b.is_ascii_digit())
                && (1..=12).contains(&t.month[4..].parse::<u32>().unwrap_or(0));
            if !month_ok {
                e.push(format!("{f}.month: YYYYMM"));
            }
            period_ok(&mut e, &f, t.valid_from, t.valid_to);
            text_ok(
                &mut e,
                &format!("{f}.institution_name"),
                Some(&t.institution_name),
                100,
                true,
            );
            if t.injuries.len() > 3 || t.remarks.len() > 3 {
                e.push(format!("{f}: at most 3 injuries and 3 remarks"));
            }
            for (k, v) in t.injuries.iter().chain(&t.remarks).enumerate() {
                text_ok(&mut e, &format!("{f}[{k}]"), Some(v), 100, true);
            }
        }
        match (late, self.partial_contribution_percent) {
            (true, None) => e.push(
                "partial_contribution_percent: required for 後期高齢者 (10, 20 or 30)".into(),
            ),
            (true, Some(p)) if ![10, 20, 30].contains(&p) => {
                e.push("partial_contribution_percent: must be 10, 20 or 30".into())
            }
            (false, Some(_)) => {
                e.push("partial_contribution_percent: only for 後期高齢者 (法別 39)".into())
            }
            _ => {}
        }
        if let Some(er) = &self.elderly_recipient {
            if late {
                e.push("elderly_recipient: not used for 後期高齢者".into());
            }
            if ![20, 30].contains(&er.ratio_percent) {
                e.push("elderly_recipient.ratio_percent: must be 20 or 30".into());
            }
            period_ok(&mut e, "elderly_recipient", er.valid_from, er.valid_to);
        }
        for (i, l) in self.limit_certificates.iter().enumerate() {
            period_ok(
                &mut e,
                &format!("limit_certificates[{i}]"),
                l.valid_from,
                l.valid_to,
            );
        }
        for (i, s) in self.specific_diseases.iter().enumerate() {
            period_ok(
                &mut e,
                &format!("specific_diseases[{i}]"),
                s.valid_from,
                s.valid_to,
            );
        }
        e
    }
}

/// Adoption state of a facility (seed documents: 申込 → 準備完了 → 運用開始).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FacilityStatus {
    /// Registered, no card reader applied for yet.
    NotApplied,
    Applied,
    Ready,
    Operational,
    Suspended,
}

/// A client certificate issued to one terminal of a facility (the certificate itself stays with the facility).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TerminalCert {
    pub terminal: String,
    pub serial: String,
    /// SHA-256 (hex) of the certificate's DER: how the TLS listener recognises it.
    pub sha256: String,
    pub not_before: Date,
    pub not_after: Date,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_on: Option<Date>,
}

/// A facility as registered in the portal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FacilityRecord {
    pub code: InstitutionCode,
    pub name: String,
    pub status: FacilityStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub applied_on: Option<Date>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ready_on: Option<Date>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operational_on: Option<Date>,
    /// Encoding of this facility's response files; the simulator default applies when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_encoding: Option<Encoding>,
    /// SHA-256 (hex) of the Web API client secret, when credentials were issued.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub web_api_secret_sha256: Option<String>,
    /// A hospital (病院) rather than a clinic (診療所); only for the adoption report (both are 医科, 点数表 1).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub hospital: bool,
    /// Registered for オンライン資格確認（資格確認限定型）: qualification answers only, no medical information (e.g. a
    /// paper-claim clinic; every 施術所 is, whatever this says).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub limited: bool,
    /// Client certificates of its terminals, revoked ones included.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub certificates: Vec<TerminalCert>,
}

impl FacilityRecord {
    pub fn kind(&self) -> FacilityKind {
        self.code.kind()
    }

    /// 資格確認限定型: qualification answers only (registered so, or a 施術所).
    pub fn qualification_only(&self) -> bool {
        self.limited || self.kind().is_practitioner()
    }

    /// May this facility use the online qualification service on `day`?
    pub fn is_operational_on(&self, day: Date) -> bool {
        self.status == FacilityStatus::Operational && self.operational_on.is_none_or(|d| d <= day)
    }

    pub fn check(&self) -> Vec<String> {
        let mut e = Vec::new();
        text_ok(&mut e, "name", Some(&self.name), 100, true);
        if self.status == FacilityStatus::Operational && self.operational_on.is_none() {
            e.push("operational_on: required when status is operational".into());
        }
        if let (Some(a), Some(r)) = (self.applied_on, self.ready_on) {
            if r < a {
                e.push("ready_on: before applied_on".into());
            }
        }
        if let (Some(r), Some(o)) = (self.ready_on, self.operational_on) {
            if o < r {
                e.push("operational_on: before ready_on".into());
            }
        }
        e
    }
}

/// 未就学: a child is 未就学 until the April 1 on which it enters school (children who turn 6 by April 1
/// enter that day; legally one turns a year older the day before the birthday, so a child born on April 1
/// enters with the earlier cohort).
pub fn is_preschool(birth: Date, on: Date) -> bool {
    use chrono::Datelike;
    let b = birth.naive();
    let entry_year = if (b.month(), b.day()) <= (4, 1) {
        b.year() + 6
    } else {
        b.year() + 7
    };
    let entry = chrono::NaiveDate::from_ymd_opt(entry_year, 4, 1).expect("April 1 exists");
    on.naive() < entry
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn sample() -> QualificationRecord {
        serde_json::from_value(serde_json::json!({
            "person_id": "P1",
            "insurer_number": "06130488",
            "insurer_name": "テスト健康保険組合",
            "card_classification": "01",
            "symbol": "1",
            "number": "2",
            "branch": "00",
            "personal_family": "1",
            "name": "山田　太郎",
            "name_kana": "ﾔﾏﾀﾞ ﾀﾛｳ",
            "sex": "1",
            "birth_date": "19800101",
            "qualification_date": "20200401"
        }))
        .unwrap()
    }

    #[test]
    fn a_good_record_passes_and_round_trips() {
        let r = sample();
        assert!(r.check().is_empty(), "{:?}", r.check());
        let back: QualificationRecord =
            serde_json::from_value(serde_json::to_value(&r).unwrap()).unwrap();
        assert_eq!(back, r);
        assert_eq!(r.individual_number().key(), "06130488:1:2:00");
    }

    #[test]
    fn every_broken_rule_is_reported() {
        let mut r = sample();
        r.name_kana = Some("ヤマダ".into());
        r.disqualification_date = Some(Date::parse("20190101").unwrap());
        r.partial_contribution_percent = Some(10);
        let errs = r.check();
        assert_eq!(errs.len(), 3, "{errs:?}");
        assert!(errs.iter().any(|e| e.starts_with("name_kana")));
        assert!(errs.iter().any(|e| e.starts_with("loss_reason")));
    }

    #[test]
    fn unknown_fields_and_bad_identifiers_are_refused() {
        let mut v = serde_json::to_value(sample()).unwrap();
        v["nmae"] = "x".into();
        assert!(serde_json::from_value::<QualificationRecord>(v).is_err());
        let mut v = serde_json::to_value(sample()).unwrap();
        v["insurer_number"] = "06130487".into();
        let e = serde_json::from_value::<QualificationRecord>(v).unwrap_err();
        assert!(e.to_string().contains("check digit"), "{e}");
    }

    #[test]
    fn preschool_boundary() {
        let d = |s| Date::parse(s).unwrap();
        // Born 2019-04-01: enters school 2025-04-01.
        assert!(is_preschool(d("20190401"), d("20250331")));
        assert!(!is_preschool(d("20190401"), d("20250401")));
        // Born 2019-04-02: enters 2026-04-01.
        assert!(is_preschool(d("20190402"), d("20260331")));
        assert!(!is_preschool(d("20190402"), d("20260401")));
    }
}
