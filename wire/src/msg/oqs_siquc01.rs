//! `OQSsiquc01req` → `OQSsiquc01res`: single qualification confirmation by insurance-card data
//! (reference §2.1–2.3). Also the body layout of face results (`OQSsiquc01res_face_…`, §1.5b).

use crate::codes::{
    CodeTable, LimitConsent, PrescriptionIssueSelect, ProcessingResultStatus,
    QualificationValidity, ReferenceClassification, SegmentOfResult,
};
use crate::ids::{BranchNumber, CardNumber, CardSymbol, Date, DateTime, InsurerNumber};
use crate::msg::qualification::{write_result, QualificationResult};
use crate::msg::{parse_request_header, write_header, FileError, RequestHeader, ResponseHeader};
use crate::result_codes::{outcome, Outcome, ResultKey};
use crate::xml::{Element, Emitter, Encoding, OutputForm};

/// `QualificationConfirmSearchInfo` exactly as received (echoed in the response).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SearchEcho {
    pub insurer_number: Option<String>,
    pub symbol: Option<String>,
    pub number: Option<String>,
    pub branch: Option<String>,
    pub birthdate: Option<String>,
    pub limit_consent: Option<String>,
}

impl SearchEcho {
    /// The card data of a registered qualification, as a search would name it (the bulk kinds that find persons
    /// by other keys — home care, 医療扶助 — echo this).
    pub fn of_record(r: &crate::record::QualificationRecord) -> Self {
        Self {
            insurer_number: Some(r.insurer_number.xml_form()),
            symbol: (!r.symbol.is_empty()).then(|| r.symbol.as_str().to_string()),
            number: Some(r.number.as_str().to_string()),
            branch: Some(r.branch.as_string()),
            birthdate: Some(r.birth_date.compact()),
            limit_consent: None,
        }
    }
}

/// Validated search keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchKeys {
    pub insurer: InsurerNumber,
    pub symbol: CardSymbol,
    pub number: CardNumber,
    pub branch: Option<BranchNumber>,
    pub birthdate: Date,
    pub limit_consent: LimitConsent,
}

/// A readable request. Problems with the person's keys do not fail the file: they are answered per person
/// (`ProcessingResultStatus` 2), so `keys` carries them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub header: RequestHeader,
    pub search: SearchEcho,
    pub keys: Result<SearchKeys, Outcome>,
}

/// The keys of a person, checked; a problem is that person's error (`ProcessingResultStatus` 2).
pub fn keys_of(s: &SearchEcho) -> Result<SearchKeys, Outcome> {
    let need = |v: &Option<String>, name: &str| {
        v.clone()
            .ok_or_else(|| outcome(ResultKey::PersonMissing, name))
    };
    let insurer = InsurerNumber::parse(&need(&s.insurer_number, "InsurerNumber")?)
        .map_err(|e| outcome(ResultKey::InsurerInvalid, &e.0))?;
    let symbol = CardSymbol::parse(s.symbol.as_deref().unwrap_or(""))
        .map_err(|e| outcome(ResultKey::NumberInvalid, &e.0))?;
    let number = CardNumber::parse(&need(&s.number, "InsuredIdentificationNumber")?)
        .map_err(|e| outcome(ResultKey::NumberInvalid, &e.0))?;
    let branch = s
        .branch
        .as_deref()
        .map(BranchNumber::parse)
        .transpose()
        .map_err(|e| outcome(ResultKey::BranchInvalid, &e.0))?;
    let birthdate = Date::parse(&need(&s.birthdate, "Birthdate")?)
        .map_err(|e| outcome(ResultKey::BirthdateInvalid, &e.0))?;
    let flag = need(
        &s.limit_consent,
        "LimitApplicationCertificateRelatedConsFlg",
    )?;
    let limit_consent = LimitConsent::from_code(&flag)
        .ok_or_else(|| outcome(ResultKey::ConsentFlagInvalid, "0 (未同意) or 1 (同意)"))?;
    Ok(SearchKeys {
        insurer,
        symbol,
        number,
        branch,
        birthdate,
        limit_consent,
    })
}

/// A `QualificationConfirmSearchInfo` as received.
pub fn read_search(info: &Element) -> SearchEcho {
    let get = |n: &str| info.value(n).map(str::to_string);
    SearchEcho {
        insurer_number: get("InsurerNumber"),
        symbol: get("InsuredCardSymbol"),
        number: get("InsuredIdentificationNumber"),
        branch: get("InsuredBranchNumber"),
        birthdate: get("Birthdate"),
        limit_consent: get("LimitApplicationCertificateRelatedConsFlg"),
    }
}

/// Reads a request tree (from XML or the Web API's JSON).
pub fn parse(root: &Element) -> Result<Request, FileError> {
    let (header, body) = parse_request_header(root)?;
    let info = body
        .child("QualificationConfirmSearchInfo")
        .ok_or_else(|| {
            FileError::new(ResultKey::BodyMissing, "QualificationConfirmSearchInfo")
                .with_echo(&header.echo)
        })?;
    let search = read_search(info);
    let keys = keys_of(&search);
    Ok(Request {
        header,
        search,
        keys,
    })
}

/// The per-person part of the response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Body {
    pub status: ProcessingResultStatus,
    pub code: Option<Outcome>,
    pub validity: Option<QualificationValidity>,
    pub search: Option<SearchEcho>,
    pub prescription_issue_select: Option<PrescriptionIssueSelect>,
    pub results: Vec<QualificationResult>,
    /// A face result of a card not registered for health-insurance use: the key the real face XML carries
    /// (`QualificationConfirmationKey`; its position is not known [O]).
    pub confirmation_key: Option<String>,
}

/// A whole response file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub header: ResponseHeader,
    pub body: Option<Body>,
}

impl Response {
    /// The answer to a file that cannot be processed (`SegmentOfResult` 9, no body).
    pub fn file_error(err: FileError, now: DateTime, encoding: Encoding) -> Self {
        Self {
            header: ResponseHeader {
                process_time: now,
                echo: *err.echo,
                reference_classification: ReferenceClassification::InsuranceCard,
                segment: SegmentOfResult::Abnormal,
                error: Some(err.outcome),
                encoding,
            },
            body: None,
        }
    }

    /// Writes the file (XML in the header's encoding) or the Web API JSON.
    pub fn write(&self, form: OutputForm) -> Vec<u8> {
        let mut e = Emitter::new(form);
        e.start("XmlMsg");
        write_header(&mut e, &self.header);
        if let Some(b) = &self.body {
            write_body(&mut e, b);
        }
        e.end();
        e.finish()
    }

    /// XML in the header's encoding.
    pub fn to_xml(&self) -> Vec<u8> {
        self.write(OutputForm::Xml(self.header.encoding))
    }
}

fn write_search_echo(e: &mut Emitter, s: &SearchEcho) {
    write_search(e, s, None);
}

/// `QualificationConfirmSearchInfo` as received, with the bulk request's per-person `ArbitraryIdentifier`.
pub fn write_search(e: &mut Emitter, s: &SearchEcho, arbitrary_identifier: Option<&str>) {
    e.start("QualificationConfirmSearchInfo");
    e.opt("InsurerNumber", s.insurer_number.as_deref());
    e.opt("InsuredCardSymbol", s.symbol.as_deref());
    e.opt("InsuredIdentificationNumber", s.number.as_deref());
    e.opt("InsuredBranchNumber", s.branch.as_deref());
    e.opt("Birthdate", s.birthdate.as_deref());
    e.opt(
        "LimitApplicationCertificateRelatedConsFlg",
        s.limit_consent.as_deref(),
    );
    e.opt("ArbitraryIdentifier", arbitrary_identifier);
    e.end();
}

/// Writes `MessageBody` (shared with face results) in the order of the real face answer (reference §1.4): the
/// `ResultList` first, then `ProcessingResultStatus` (+ code, message) and `QualificationValidity`; the search echo
/// and `PrescriptionIssueSelect`, absent from the sample, after them [I].
pub fn write_body(e: &mut Emitter, b: &Body) {
    e.start("MessageBody");
    if !b.results.is_empty() {
        e.start("ResultList");
        e.start_list("ResultOfQualificationConfirmation");
        for r in &b.results {
            write_result(e, r);
        }
        e.end_list();
        e.end();
    }
    e.leaf("ProcessingResultStatus", b.status.code());
    if let Some(c) = &b.code {
        e.leaf("ProcessingResultCode", &c.code);
        e.leaf("ProcessingResultMessage", &c.message);
    }
    e.opt("QualificationValidity", b.validity.map(|v| v.code()));
    e.opt(
        "QualificationConfirmationKey",
        b.confirmation_key.as_deref(),
    );
    if let Some(s) = &b.search {
        write_search_echo(e, s);
    }
    e.opt(
        "PrescriptionIssueSelect",
        b.prescription_issue_select.map(|p| p.code()),
    );
    e.end();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xml::{parse as parse_xml, Limits};

    const REQ: &str = r#"<?xml version="1.0" encoding="UTF-8" standalone="no"?>
<XmlMsg>
  <MessageHeader>
    <QualificationConfirmationDate>20261120</QualificationConfirmationDate>
    <MedicalInstitutionCode>1310112346</MedicalInstitutionCode>
    <ArbitraryFileIdentifier>abc</ArbitraryFileIdentifier>
  </MessageHeader>
  <MessageBody>
    <QualificationConfirmSearchInfo>
      <InsurerNumber>  138016</InsurerNumber>
      <InsuredCardSymbol>ＡＢ</InsuredCardSymbol>
      <InsuredIdentificationNumber>0012</InsuredIdentificationNumber>
      <InsuredBranchNumber></InsuredBranchNumber>
      <Birthdate>19800101</Birthdate>
      <LimitApplicationCertificateRelatedConsFlg>1</LimitApplicationCertificateRelatedConsFlg>
    </QualificationConfirmSearchInfo>
  </MessageBody>
</XmlMsg>"#;

    fn req(text: &str) -> Result<Request, FileError> {
        parse(&parse_xml(text.as_bytes(), &Limits::default()).unwrap().root)
    }

    #[test]
    fn parses_a_request_by_element_name() {
        let mut code = "1310112340".to_string();
        let check = crate::ids::mod10_w21(&code.as_bytes()[..9]);
        code.replace_range(9.., &check.to_string());
        let r = req(&REQ.replace("1310112346", &code)).unwrap();
        let k = r.keys.unwrap();
        assert_eq!(k.insurer.xml_form(), "  138016");
        assert_eq!(k.symbol.as_str(), "AB");
        assert_eq!(k.number.as_str(), "0012");
        assert_eq!(k.branch, None);
        assert_eq!(k.limit_consent, LimitConsent::Consented);
        assert_eq!(r.search.insurer_number.as_deref(), Some("  138016"));
    }

    #[test]
    fn file_and_person_errors_are_separated() {
        let e = req(&REQ
            .replace("<XmlMsg>", "<Msg>")
            .replace("</XmlMsg>", "</Msg>"))
        .unwrap_err();
        assert_eq!(e.outcome.key, ResultKey::WrongRoot);
        let e = req(&REQ.replace("20261120", "20261131")).unwrap_err();
        assert_eq!(e.outcome.key, ResultKey::HeaderInvalid);
        assert_eq!(e.echo.confirmation_date.as_deref(), Some("20261131"));
        let e = req(&REQ.replace("1310112346", "1310112340")).unwrap_err();
        assert!(matches!(e.outcome.key, ResultKey::HeaderInvalid));
        let good_code = crate::ids::InstitutionCode::from_body("131011234").unwrap();
        let base = REQ.replace("1310112346", good_code.as_str());
        let r = req(&base.replace("  138016", "  138017")).unwrap();
        assert_eq!(r.keys.unwrap_err().key, ResultKey::InsurerInvalid);
        let r = req(&base.replace("<Birthdate>19800101</Birthdate>", "")).unwrap();
        assert_eq!(r.keys.unwrap_err().key, ResultKey::PersonMissing);
        let r = req(&base.replace(">1</Limit", ">7</Limit")).unwrap();
        assert_eq!(r.keys.unwrap_err().key, ResultKey::ConsentFlagInvalid);
    }

    #[test]
    fn a_file_error_has_no_body_and_segment_9() {
        let resp = Response::file_error(
            FileError::new(ResultKey::MalformedXml, "x"),
            DateTime::parse("20261121101010").unwrap(),
            Encoding::ShiftJis,
        );
        let bytes = resp.to_xml();
        let d = parse_xml(&bytes, &Limits::default()).unwrap();
        assert_eq!(d.encoding, Encoding::ShiftJis);
        let h = d.root.child("MessageHeader").unwrap();
        assert_eq!(h.value("SegmentOfResult"), Some("9"));
        assert_eq!(h.value("ErrorCode"), Some("EC0001"));
        assert_eq!(h.value("CharacterCodeIdentifier"), Some("1"));
        assert!(d.root.child("MessageBody").is_none());
    }
}
