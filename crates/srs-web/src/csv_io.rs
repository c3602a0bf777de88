//! CSV export rows and import parsing, shared by the API and the pages.

use axum::body::Bytes;
use srs_domain::{NewStudent, RawStudent, Student, StudentField};
use srs_store::{ImportRow, RowError};

/// Columns the export writes after the student's fields: when the record
/// was added and last changed. The import accepts and ignores them, so an
/// export can be imported elsewhere as it is.
const TIMESTAMP_COLUMNS: [&str; 2] = ["created_at", "updated_at"];
const IGNORED_COLUMNS: [&str; 4] = ["id", "created_at", "updated_at", "version"];

/// Most rows one import may hold.
pub(crate) const MAX_IMPORT_ROWS: usize = 100_000;

/// The downloadable template: the header and one example row, each
/// field's example.
pub(crate) fn template() -> String {
    let header: Vec<String> = StudentField::ALL.map(|f| f.name().to_owned()).to_vec();
    let example: Vec<String> = StudentField::ALL.map(|f| f.example().to_owned()).to_vec();
    let mut out = String::from_utf8_lossy(&write_record(&header)).into_owned();
    out.push_str(&String::from_utf8_lossy(&write_record(&example)));
    out
}

/// Spreadsheets run cells that start with these as formulas; a leading
/// apostrophe makes them text (OWASP's advice), and the import strips it.
const FORMULA_STARTS: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];

fn neutralise(cell: &str) -> String {
    if cell.starts_with(FORMULA_STARTS) {
        format!("'{cell}")
    } else {
        cell.to_owned()
    }
}

fn restore(cell: &str) -> &str {
    match cell.strip_prefix('\'') {
        Some(rest) if rest.starts_with(FORMULA_STARTS) => rest,
        _ => cell,
    }
}

fn write_record(fields: &[String]) -> Bytes {
    let mut writer = csv::Writer::from_writer(Vec::new());
    // Writing to a Vec cannot fail for I/O reasons; an error would be a bug in csv.
    if writer.write_record(fields).is_err() {
        return Bytes::new();
    }
    Bytes::from(writer.into_inner().unwrap_or_default())
}

/// The export's header line.
pub(crate) fn header_row() -> Bytes {
    let names: Vec<String> = StudentField::ALL
        .iter()
        .map(|f| f.name())
        .chain(TIMESTAMP_COLUMNS)
        .map(str::to_owned)
        .collect();
    write_record(&names)
}

/// One student as an export line.
pub(crate) fn student_row(s: &Student) -> Bytes {
    let fields: Vec<String> = StudentField::ALL
        .iter()
        // As the pages show it; an import reads labels as well as codes.
        .map(|f| s.shown(*f))
        // UTC to the second: what a spreadsheet shows and sorts.
        .chain([s.created_at, s.updated_at].map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string()))
        .map(|c| neutralise(&c))
        .collect();
    write_record(&fields)
}

fn row_error(line: u64, field: &str, message: impl Into<String>) -> RowError {
    RowError::new(line, field, message)
}

/// Parses an uploaded CSV into the rows that are valid on their own and
/// every problem found, each with its line number. The caller imports
/// nothing unless the problem list is empty.
pub(crate) fn parse_import(
    data: &[u8],
    today: chrono::NaiveDate,
) -> (Vec<ImportRow>, Vec<RowError>) {
    match parse_rows(data, today) {
        Ok(parsed) => parsed,
        Err(fatal) => (Vec::new(), fatal),
    }
}

type Parsed = (Vec<ImportRow>, Vec<RowError>);

fn parse_rows(data: &[u8], today: chrono::NaiveDate) -> Result<Parsed, Vec<RowError>> {
    let data = data.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(data);
    if data.iter().all(u8::is_ascii_whitespace) {
        return Err(vec![row_error(
            1,
            "file",
            "the file is empty; it needs a header row and at least one student",
        )]);
    }
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(data);
    let mut records = reader.byte_records();
    let header = match records.next() {
        Some(Ok(h)) => h,
        Some(Err(e)) => {
            return Err(vec![row_error(
                1,
                "file",
                format!("the header row cannot be read: {e}"),
            )])
        }
        None => return Err(vec![row_error(1, "file", "the file has no header row")]),
    };
    let mut errors = Vec::new();
    let mut columns: Vec<Option<StudentField>> = Vec::new();
    for (i, raw) in header.iter().enumerate() {
        let name = String::from_utf8_lossy(raw).trim().to_ascii_lowercase();
        if let Some(known) = StudentField::named(&name) {
            if columns.contains(&Some(known)) {
                errors.push(row_error(
                    1,
                    &name,
                    "this column appears twice in the header",
                ));
            }
            columns.push(Some(known));
        } else if IGNORED_COLUMNS.contains(&name.as_str()) {
            columns.push(None);
        } else {
            errors.push(row_error(
                1,
                "header",
                format!(
                    "unknown column '{}' (column {}); expected {}",
                    name.chars().take(40).collect::<String>().escape_default(),
                    i + 1,
                    StudentField::ALL.map(StudentField::name).join(", ")
                ),
            ));
            columns.push(None);
        }
    }
    for required in StudentField::ALL.into_iter().filter(|f| f.required()) {
        if !columns.contains(&Some(required)) {
            errors.push(row_error(
                1,
                required.name(),
                format!("the header has no '{}' column", required.name()),
            ));
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }

    let mut rows = Vec::new();
    for record in records {
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                let line = e.position().map(|p| p.line()).unwrap_or(0);
                errors.push(row_error(
                    line,
                    "row",
                    format!("cannot be read as CSV: {e}"),
                ));
                break;
            }
        };
        let line = record.position().map(|p| p.line()).unwrap_or(0);
        if record.iter().all(|f| f.iter().all(u8::is_ascii_whitespace)) {
            continue;
        }
        if record.len() != columns.len() {
            errors.push(row_error(
                line,
                "row",
                format!(
                    "has {} fields but the header has {}",
                    record.len(),
                    columns.len()
                ),
            ));
            continue;
        }
        if rows.len() + errors.len() >= MAX_IMPORT_ROWS {
            errors.push(row_error(
                line,
                "file",
                format!("more than {MAX_IMPORT_ROWS} rows; split the file"),
            ));
            break;
        }
        let mut raw = RawStudent::default();
        let mut bad_utf8 = false;
        for (field, column) in record.iter().zip(&columns) {
            let Some(column) = column else { continue };
            match std::str::from_utf8(field) {
                Ok(s) => raw.set(*column, restore(s)),
                Err(_) => {
                    errors.push(row_error(
                        line,
                        column.name(),
                        "is not valid UTF-8 text; save the file as UTF-8",
                    ));
                    bad_utf8 = true;
                }
            }
        }
        if bad_utf8 {
            continue;
        }
        let name = raw.get(StudentField::FullName).map(str::to_owned);
        let field_error = |f: srs_domain::FieldError| {
            let value = StudentField::named(&f.field)
                .and_then(|field| raw.get(field))
                .map(str::to_owned);
            row_error(line, &f.field, f.message).about(name.clone(), value)
        };
        match NewStudent::parse(&raw, today) {
            Ok(student) => rows.push(ImportRow { line, student }),
            Err(v) => errors.extend(v.0.into_iter().map(field_error)),
        }
    }
    if rows.is_empty() && errors.is_empty() {
        errors.push(row_error(
            2,
            "file",
            "the file has a header but no students",
        ));
    }
    Ok((rows, errors))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn today() -> chrono::NaiveDate {
        chrono::NaiveDate::from_ymd_opt(2026, 11, 25).expect("valid")
    }

    #[test]
    fn the_template_parses() {
        let (rows, errors) = parse_import(template().as_bytes(), today());
        assert!(errors.is_empty(), "template is valid: {errors:?}");
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].line, 2);
    }

    #[test]
    fn every_bad_row_is_reported_with_its_line() {
        let csv = "full_name,date_of_birth,department\nAda Lovelace,2004-01-01,Arts\n<b>,2004-01-01,Arts\nBob,2020-01-01,Arts\n";
        let (rows, errors) = parse_import(csv.as_bytes(), today());
        assert_eq!(rows.len(), 1, "the valid row is kept for further checks");
        assert_eq!(
            errors.iter().map(|e| e.line).collect::<Vec<_>>(),
            vec![3, 4]
        );
    }

    #[test]
    fn lines_are_the_file_s_own_even_after_a_field_spanning_lines() {
        let csv = "full_name,date_of_birth,department\n\"Ada\nLovelace\",2004-01-01,Arts\nBob,2020-01-01,Arts\n";
        let (rows, errors) = parse_import(csv.as_bytes(), today());
        assert_eq!(rows.len(), 1);
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].line, 4, "the file's fourth line: {errors:?}");
        assert_eq!(errors[0].name.as_deref(), Some("Bob"));
        assert_eq!(errors[0].value.as_deref(), Some("2020-01-01"));
    }

    #[test]
    fn invalid_utf8_is_a_row_error_not_a_panic() {
        let mut csv = b"full_name,date_of_birth,department\n".to_vec();
        csv.extend_from_slice(b"Ad\xffa,2004-01-01,Arts\n");
        let (_, errors) = parse_import(&csv, today());
        assert_eq!(errors[0].line, 2);
        assert!(errors[0].message.contains("UTF-8"));
    }

    #[test]
    fn unknown_and_missing_columns_are_reported() {
        let (_, errors) = parse_import(b"full_name,shoe_size\nAda,42\n", today());
        assert!(errors.iter().any(|e| e.message.contains("shoe_size")));
        assert!(errors.iter().any(|e| e.field == "date_of_birth"));
    }

    #[test]
    fn formula_cells_are_neutralised_and_restored() {
        assert_eq!(neutralise("=1+1"), "'=1+1");
        assert_eq!(restore("'=1+1"), "=1+1");
        assert_eq!(restore("'Brien"), "'Brien");
    }
}
