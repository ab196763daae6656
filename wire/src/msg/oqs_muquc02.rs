//! `OQSmuquc02req` → `OQSmuquc02res`: 一括照会, step 2 (reference §2.5). The request names the `ReceptionNumber`
//! ([`crate::msg::bulk::parse_reception`]); while the job runs the answer is `SegmentOfResult` 2
//! ([`crate::msg::bulk::write_processing`]); then the header counts the persons (`NumberOfProcessingResult`,
//! `NumberOfNormalProcessing`, `NumberOfError`) and the body holds one `BulkConfirmUnit` per person, in file order.

use crate::codes::{CodeTable, ProcessingResultStatus, QualificationValidity, SegmentOfResult};
use crate::ids::DateTime;
use crate::msg::oqs_siquc01::{write_search, SearchEcho};
use crate::msg::qualification::{write_result, QualificationResult};
use crate::msg::{write_result_head, HeaderEcho};
use crate::xml::{Emitter, Encoding, OutputForm};

pub use crate::msg::bulk::{parse_reception as parse, ReceptionRequest as Request};

/// One person's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unit {
    pub search: SearchEcho,
    pub arbitrary_identifier: Option<String>,
    pub status: ProcessingResultStatus,
    /// `ProcessingResultCode` and `ProcessingResultMessage` (an error, or 付帯情報 with status 1).
    pub code: Option<(String, String)>,
    pub validity: Option<QualificationValidity>,
    /// The qualification, when exactly one answers (none for 4 該当資格なし and 5 複数該当: reference §2.5 allows
    /// one `ResultOfQualificationConfirmation` per unit).
    pub result: Option<QualificationResult>,
    pub reference_number: Option<String>,
}

/// The header of the result file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    pub process_time: DateTime,
    /// `QualificationConfirmationDate` and `ArbitraryFileIdentifier` of the step-1 file, the facility.
    pub echo: HeaderEcho,
    pub reception_number: String,
    pub encoding: Encoding,
}

/// The result file.
pub fn write(header: &Header, units: &[Unit], form: OutputForm) -> Vec<u8> {
    let errors = units
        .iter()
        .filter(|u| u.status == ProcessingResultStatus::Error)
        .count();
    let mut e = Emitter::new(form);
    e.start("XmlMsg");
    e.start("MessageHeader");
    e.leaf("ProcessExecutionTime", &header.process_time.compact());
    write_result_head(&mut e, SegmentOfResult::Normal, None, header.encoding);
    e.opt(
        "QualificationConfirmationDate",
        header.echo.confirmation_date.as_deref(),
    );
    e.opt(
        "ArbitraryFileIdentifier",
        header.echo.arbitrary_file_identifier.as_deref(),
    );
    e.opt("MedicalInstitutionCode", header.echo.institution.as_deref());
    e.leaf("ReceptionNumber", &header.reception_number);
    e.leaf("NumberOfProcessingResult", &units.len().to_string());
    e.leaf(
        "NumberOfNormalProcessing",
        &(units.len() - errors).to_string(),
    );
    e.leaf("NumberOfError", &errors.to_string());
    e.end();
    e.start("MessageBody");
    e.start_list("BulkConfirmUnit");
    for u in units {
        e.start("BulkConfirmUnit");
        write_search(&mut e, &u.search, u.arbitrary_identifier.as_deref());
        e.leaf("ProcessingResultStatus", u.status.code());
        if let Some((code, message)) = &u.code {
            e.leaf("ProcessingResultCode", code);
            e.leaf("ProcessingResultMessage", message);
        }
        e.opt("QualificationValidity", u.validity.map(|v| v.code()));
        if let Some(r) = &u.result {
            write_result(&mut e, r);
        }
        e.opt("ReferenceNumber", u.reference_number.as_deref());
        e.end();
    }
    e.end_list();
    e.end();
    e.end();
    e.finish()
}
