//! `ResultOfQualificationConfirmation` (reference §2.3): the qualification result shared by the single query,
//! face results and bulk results, its mapping from a registered record, and its writer.

use crate::codes::{
    CodeTable, ConsentStatus, DesignatedInstitutionFlag, InsuredCardClassification,
    LimitCertificateClassification, LimitCertificateFlag, LimitConsent, PersonalFamily,
    PreschoolClassification, QualificationValidity, ReasonOfLoss, Sex, SpecificDiseaseCategory,
};
use crate::ids::{Date, DateTime, InsurerNumber};
use crate::record::{is_preschool, MedicalTicket, QualificationRecord};
use crate::xml::Emitter;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ElderlyInfo {
    pub certificate_date: Date,
    pub valid_start: Date,
    pub valid_end: Date,
    pub ratio_percent: u8,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LimitInfo {
    pub classification: LimitCertificateClassification,
    pub flag: LimitCertificateFlag,
    pub date: Date,
    pub valid_start: Date,
    pub valid_end: Date,
    pub long_term_date: Option<Date>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecificDiseaseInfo {
    pub category: SpecificDiseaseCategory,
    pub date: Date,
    pub valid_start: Date,
    pub valid_end: Date,
    pub self_pay_yen: u32,
}

/// A consent given on the card reader: flag, time, and until when viewing is allowed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Consent {
    pub flag: ConsentStatus,
    pub time: Option<DateTime>,
    pub available_until: Option<DateTime>,
}

/// The consent screens the card reader added in 2025, each written as an element family `<family>ConsFlg`,
/// `<family>ConsTime`, `<family>AvailableTime` after the older consents.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Info2025 {
    /// 傷病名
    DiagnosisName,
    /// 感染症
    Infectious,
    /// アレルギー
    Allergy,
    /// 禁忌
    Contraindication,
    /// 検査
    Test,
    /// 処方
    Prescription,
}

impl Info2025 {
    /// The element names of its flag, consent time and viewing limit.
    pub fn names(self) -> [&'static str; 3] {
        match self {
            Info2025::DiagnosisName => [
                "DiagnosisNameConsFlg",
                "DiagnosisNameConsTime",
                "DiagnosisNameAvailableTime",
            ],
            Info2025::Infectious => [
                "InfectiousInfoConsFlg",
                "InfectiousInfoConsTime",
                "InfectiousInfoAvailableTime",
            ],
            Info2025::Allergy => [
                "AllergyInfoConsFlg",
                "AllergyInfoConsTime",
                "AllergyInfoAvailableTime",
            ],
            Info2025::Contraindication => [
                "ContraindicationInfoConsFlg",
                "ContraindicationInfoConsTime",
                "ContraindicationInfoAvailableTime",
            ],
            Info2025::Test => [
                "TestInfoConsFlg",
                "TestInfoConsTime",
                "TestInfoAvailableTime",
            ],
            Info2025::Prescription => [
                "PrescriptionInfoConsFlg",
                "PrescriptionInfoConsTime",
                "PrescriptionInfoAvailableTime",
            ],
        }
    }
}

/// One `ResultOfQualificationConfirmation`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QualificationResult {
    pub card_classification: InsuredCardClassification,
    pub insurer_number: InsurerNumber,
    pub symbol: Option<String>,
    pub number: String,
    pub branch: String,
    pub personal_family: Option<PersonalFamily>,
    pub insured_name: Option<String>,
    pub name: String,
    pub name_of_other: Option<String>,
    pub name_kana: Option<String>,
    pub name_of_other_kana: Option<String>,
    pub sex1: Sex,
    pub sex2: Option<Sex>,
    pub birthdate: Date,
    pub address: Option<String>,
    pub post_number: Option<String>,
    pub qualification_date: Date,
    pub disqualification_date: Option<Date>,
    pub card_issuance_date: Option<Date>,
    pub card_valid_date: Option<Date>,
    pub card_expiration_date: Option<Date>,
    pub partial_contribution_percent: Option<u8>,
    pub preschool: Option<PreschoolClassification>,
    pub reason_of_loss: Option<ReasonOfLoss>,
    pub insurer_name: String,
    pub elderly: Option<ElderlyInfo>,
    pub limit_consent: Option<(LimitConsent, Option<DateTime>)>,
    pub limit_info: Option<LimitInfo>,
    pub specific_consent: Option<(ConsentStatus, Option<DateTime>)>,
    pub specific_diseases: Vec<SpecificDiseaseInfo>,
    pub checkup_consent: Option<Consent>,
    pub pharmacists_consent: Option<Consent>,
    pub diagnosis_consent: Option<Consent>,
    pub operation_consent: Option<Consent>,
    /// The 2025 consent screens answered at the reader (face results only).
    pub consents_2025: Vec<(Info2025, Consent)>,
    pub reference_number: Option<String>,
    /// 医療扶助: the month's 医療券・調剤券, each with whether its designated institution is the asking one
    /// (`PublicExpenseResultList`; see [`apply_medical_aid`]).
    pub public_expense: Vec<(MedicalTicket, DesignatedInstitutionFlag)>,
}

/// 医療扶助 (reference §2.3, OQSCD006): a recipient's answer carries the 医療券・調剤券 of the treatment month `month`
/// (`YYYYMM`, the confirmation date's) —
/// each flagged 0 一致 when it designates the asking facility, 1 不一致 otherwise — and a valid recipient with no
/// ticket for that month is 6 有効（未登録）. Returns the validity to answer. Records of other kinds are untouched.
pub fn apply_medical_aid(
    result: &mut QualificationResult,
    record: &QualificationRecord,
    facility: &str,
    month: &str,
    validity: QualificationValidity,
) -> QualificationValidity {
    if !record.is_medical_aid() {
        return validity;
    }
    result.public_expense = record
        .medical_tickets
        .iter()
        .filter(|t| t.month == month)
        .map(|t| {
            let flag = if t.institution.as_str() == facility {
                DesignatedInstitutionFlag::Match
            } else {
                DesignatedInstitutionFlag::Mismatch
            };
            (t.clone(), flag)
        })
        .collect();
    if validity == QualificationValidity::Valid && result.public_expense.is_empty() {
        QualificationValidity::ValidUnregistered
    } else {
        validity
    }
}

/// What of the 高額療養費-related certificate data the requester may receive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Disclosure {
    /// 限度額適用認定証情報 may be included (`LimitApplicationCertificateRelatedConsFlg` = 1).
    pub limit_consent: bool,
    /// 特定疾病療養受療証情報 may be included (the reader asks it separately; an insurance-card query with
    /// `LimitApplicationCertificateRelatedConsFlg` = 1 includes it too).
    pub specific_consent: bool,
    /// When that consent was given (the processing time for insurance-card queries).
    pub consent_time: DateTime,
}

impl QualificationResult {
    /// Maps the record in force on `on` to the result elements.
    pub fn from_record(r: &QualificationRecord, on: Date, disclosure: Disclosure) -> Self {
        let within = |from: Date, to: Date| from <= on && on <= to;
        let elderly = r
            .elderly_recipient
            .as_ref()
            .filter(|e| within(e.valid_from, e.valid_to))
            .map(|e| ElderlyInfo {
                certificate_date: e.issued,
                valid_start: e.valid_from,
                valid_end: e.valid_to,
                ratio_percent: e.ratio_percent,
            });
        let time = Some(disclosure.consent_time);
        let (limit_consent, limit_info) = if disclosure.limit_consent {
            let limit = r
                .limit_certificates
                .iter()
                .filter(|l| within(l.valid_from, l.valid_to))
                .max_by_key(|l| l.valid_from)
                .map(|l| LimitInfo {
                    classification: l.classification,
                    flag: l.flag,
                    date: l.issued,
                    valid_start: l.valid_from,
                    valid_end: l.valid_to,
                    long_term_date: l.long_term_date,
                });
            (Some((LimitConsent::Consented, time)), limit)
        } else {
            (Some((LimitConsent::NotConsented, None)), None)
        };
        let (specific_consent, specific_diseases) = if disclosure.specific_consent {
            let diseases = r
                .specific_diseases
                .iter()
                .filter(|s| within(s.valid_from, s.valid_to))
                .map(|s| SpecificDiseaseInfo {
                    category: s.category,
                    date: s.issued,
                    valid_start: s.valid_from,
                    valid_end: s.valid_to,
                    self_pay_yen: s.self_pay_yen,
                })
                .collect();
            (Some((ConsentStatus::Consented, time)), diseases)
        } else {
            (None, vec![])
        };
        Self {
            card_classification: r.card_classification,
            insurer_number: r.insurer_number,
            symbol: (!r.symbol.is_empty()).then(|| r.symbol.as_str().to_string()),
            number: r.number.as_str().to_string(),
            branch: r.branch.as_string(),
            personal_family: r.personal_family,
            insured_name: r.insured_name.clone(),
            name: r.name.clone(),
            name_of_other: r.name_other.clone(),
            name_kana: r.name_kana.clone(),
            name_of_other_kana: r.name_other_kana.clone(),
            sex1: r.sex,
            sex2: r.sex2,
            birthdate: r.birth_date,
            address: r.address.clone(),
            post_number: r.postal_code.as_ref().map(|p| p.as_str().to_string()),
            qualification_date: r.qualification_date,
            disqualification_date: r.disqualification_date,
            card_issuance_date: r.card_issued,
            card_valid_date: r.card_valid_from,
            card_expiration_date: r.card_expires,
            partial_contribution_percent: r.partial_contribution_percent,
            preschool: is_preschool(r.birth_date, on).then_some(PreschoolClassification::Preschool),
            reason_of_loss: r.loss_reason,
            insurer_name: r.insurer_name.clone(),
            elderly,
            limit_consent,
            limit_info,
            specific_consent,
            specific_diseases,
            checkup_consent: None,
            pharmacists_consent: None,
            diagnosis_consent: None,
            operation_consent: None,
            consents_2025: Vec::new(),
            reference_number: None,
            public_expense: Vec::new(),
        }
    }
}

/// `PublicExpenseResultList` (医療扶助資格確認結果リスト), in the reference's element order — with its spelling
/// `StatusOfInfecton`.
fn write_public_expense(e: &mut Emitter, tickets: &[(MedicalTicket, DesignatedInstitutionFlag)]) {
    e.start("PublicExpenseResultList");
    e.start_list("MedicalTicketInfo");
    for (t, flag) in tickets {
        e.start("MedicalTicketInfo");
        e.leaf("TicketType", t.ticket_type.code());
        e.leaf("MedicalTicketValidDate", &t.valid_from.compact());
        e.leaf("MedicalTicketExpirationDate", &t.valid_to.compact());
        e.opt("IssueNumber", t.issue_number.as_deref());
        e.leaf("MedicalTreatmentMonth", &t.month);
        e.leaf("DesignatedMedicalInstitutionCode", t.institution.as_str());
        e.leaf("DesignatedMedicalInstitutionFlag", flag.code());
        e.leaf("DesignatedMedicalInstitutionName", &t.institution_name);
        e.opt(
            "PrescriptionIssuerMedicalInstitutionCode",
            t.prescriber.as_ref().map(|p| p.as_str()),
        );
        e.opt(
            "PrescriptionIssuerMedicalInstitutionName",
            t.prescriber_name.as_deref(),
        );
        for (name, v) in ["InjuryName1", "InjuryName2", "InjuryName3"]
            .into_iter()
            .zip(&t.injuries)
        {
            e.leaf(name, v);
        }
        e.leaf("MedicalTreatmentType", t.treatment_type.code());
        e.opt(
            "SelfPayAmount",
            t.self_pay_yen.map(|y| y.to_string()).as_deref(),
        );
        e.opt("DistrictContactName", t.district_contact.as_deref());
        e.opt("HandlingContactName", t.handling_contact.as_deref());
        e.leaf("SingleOrCombinedUse", t.single_or_combined.code());
        e.leaf("StatusOfSocialInsurance", t.social_insurance.code());
        e.opt("StatusOfInfecton", t.infection.map(|x| x.code()));
        e.opt(
            "StatusOfElderlyMedicalCare",
            t.elderly_care.map(|x| x.code()),
        );
        e.opt(
            "StatusOfPrefecturalExpenses",
            t.prefectural.map(|x| x.code()),
        );
        for (name, v) in ["Remarks1", "Remarks2", "Remarks3"]
            .into_iter()
            .zip(&t.remarks)
        {
            e.leaf(name, v);
        }
        e.end();
    }
    e.end_list();
    e.end();
}

fn percent3(p: u8) -> String {
    format!("{p:03}")
}

fn date_opt(e: &mut Emitter, name: &'static str, d: Option<Date>) {
    if let Some(d) = d {
        e.leaf(name, &d.compact());
    }
}

fn time_opt(e: &mut Emitter, name: &'static str, t: Option<DateTime>) {
    if let Some(t) = t {
        e.leaf(name, &t.compact());
    }
}

fn consent(e: &mut Emitter, names: [&'static str; 3], c: &Option<Consent>) {
    if let Some(c) = c {
        e.leaf(names[0], c.flag.code());
        time_opt(e, names[1], c.time);
        time_opt(e, names[2], c.available_until);
    }
}

/// Writes one `ResultOfQualificationConfirmation`, children in the order of the Ver8.07-annotated layout.
pub fn write_result(e: &mut Emitter, r: &QualificationResult) {
    e.start("ResultOfQualificationConfirmation");
    e.leaf("InsuredCardClassification", r.card_classification.code());
    e.leaf("InsurerNumber", &r.insurer_number.xml_form());
    e.opt("InsuredCardSymbol", r.symbol.as_deref());
    e.leaf("InsuredIdentificationNumber", &r.number);
    e.leaf("InsuredBranchNumber", &r.branch);
    e.opt(
        "PersonalFamilyClassification",
        r.personal_family.map(|p| p.code()),
    );
    e.opt("InsuredName", r.insured_name.as_deref());
    e.leaf("Name", &r.name);
    e.opt("NameOfOther", r.name_of_other.as_deref());
    e.opt("NameKana", r.name_kana.as_deref());
    e.opt("NameOfOtherKana", r.name_of_other_kana.as_deref());
    e.leaf("Sex1", r.sex1.code());
    e.opt("Sex2", r.sex2.map(|s| s.code()));
    e.leaf("Birthdate", &r.birthdate.compact());
    e.opt("Address", r.address.as_deref());
    e.opt("PostNumber", r.post_number.as_deref());
    e.leaf("QualificationDate", &r.qualification_date.compact());
    date_opt(e, "DisqualificationDate", r.disqualification_date);
    date_opt(e, "InsuredCertificateIssuanceDate", r.card_issuance_date);
    date_opt(e, "InsuredCardValidDate", r.card_valid_date);
    date_opt(e, "InsuredCardExpirationDate", r.card_expiration_date);
    e.opt(
        "InsuredPartialContributionRatio",
        r.partial_contribution_percent.map(percent3).as_deref(),
    );
    e.opt("PreschoolClassification", r.preschool.map(|p| p.code()));
    e.opt("ReasonOfLoss", r.reason_of_loss.map(|p| p.code()));
    e.leaf("InsurerName", &r.insurer_name);
    if let Some(el) = &r.elderly {
        e.start("ElderlyRecipientCertificateInfo");
        e.leaf(
            "ElderlyRecipientCertificateDate",
            &el.certificate_date.compact(),
        );
        e.leaf("ElderlyRecipientValidStartDate", &el.valid_start.compact());
        e.leaf("ElderlyRecipientValidEndDate", &el.valid_end.compact());
        e.leaf(
            "ElderlyRecipientContributionRatio",
            &percent3(el.ratio_percent),
        );
        e.end();
    }
    if let Some((flag, time)) = r.limit_consent {
        e.leaf("LimitApplicationCertificateRelatedConsFlg", flag.code());
        time_opt(e, "LimitApplicationCertificateRelatedConsTime", time);
    }
    if let Some(l) = &r.limit_info {
        e.start("LimitApplicationCertificateRelatedInfo");
        e.leaf(
            "LimitApplicationCertificateClassification",
            l.classification.code(),
        );
        e.leaf(
            "LimitApplicationCertificateClassificationFlag",
            l.flag.code(),
        );
        e.leaf("LimitApplicationCertificateDate", &l.date.compact());
        e.leaf(
            "LimitApplicationCertificateValidStartDate",
            &l.valid_start.compact(),
        );
        e.leaf(
            "LimitApplicationCertificateValidEndDate",
            &l.valid_end.compact(),
        );
        date_opt(
            e,
            "LimitApplicationCertificateLongTermDate",
            l.long_term_date,
        );
        e.end();
    }
    if let Some((flag, time)) = r.specific_consent {
        e.leaf("SpecificDiseasesCertificateRelatedConsFlg", flag.code());
        time_opt(e, "SpecificDiseasesCertificateRelatedConsTime", time);
    }
    if !r.specific_diseases.is_empty() {
        e.start("SpecificDiseasesCertificateList");
        e.start_list("SpecificDiseasesCertificateInfo");
        for s in &r.specific_diseases {
            e.start("SpecificDiseasesCertificateInfo");
            e.leaf("SpecificDiseasesDiseaseCategory", s.category.code());
            e.leaf("SpecificDiseasesCertificateDate", &s.date.compact());
            e.leaf("SpecificDiseasesValidStartDate", &s.valid_start.compact());
            e.leaf("SpecificDiseasesValidEndDate", &s.valid_end.compact());
            e.leaf("SpecificDiseasesSelfPay", &s.self_pay_yen.to_string());
            e.end();
        }
        e.end_list();
        e.end();
    }
    if !r.public_expense.is_empty() {
        write_public_expense(e, &r.public_expense);
    }
    consent(
        e,
        [
            "SpecificHealthCheckupsInfoConsFlg",
            "SpecificHealthCheckupsInfoConsTime",
            "SpecificHealthCheckupsInfoAvailableTime",
        ],
        &r.checkup_consent,
    );
    consent(
        e,
        [
            "PharmacistsInfoConsFlg",
            "PharmacistsInfoConsTime",
            "PharmacistsInfoAvailableTime",
        ],
        &r.pharmacists_consent,
    );
    consent(
        e,
        [
            "DiagnosisInfoConsFlg",
            "DiagnosisInfoConsTime",
            "DiagnosisInfoAvailableTime",
        ],
        &r.diagnosis_consent,
    );
    consent(
        e,
        [
            "OperationInfoConsFlg",
            "OperationInfoConsTime",
            "OperationInfoAvailableTime",
        ],
        &r.operation_consent,
    );
    for (kind, c) in &r.consents_2025 {
        consent(e, kind.names(), &Some(c.clone()));
    }
    e.opt("ReferenceNumber", r.reference_number.as_deref());
    e.end();
}
