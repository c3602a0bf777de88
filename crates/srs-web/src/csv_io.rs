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

/// Numbers lines the way an editor does (CRLF, LF and a lone CR each end
/// one), for byte offsets met in increasing order. The CSV reader's own
/// line count differs with CRLF files and after blank lines, so every line
/// a registrar is told is counted here from the bytes.
struct LineCounter<'a> {
    data: &'a [u8],
    at: usize,
    line: u64,
}

impl<'a> LineCounter<'a> {
    fn new(data: &'a [u8]) -> Self {
        Self {
            data,
            at: 0,
            line: 1,
        }
    }

    /// The line of the record the reader found at `byte`: the reader
    /// reports where it started looking, before any blank lines it
    /// skipped, so those are skipped here too.
    fn record_line(&mut self, byte: u64) -> u64 {
        let mut start = usize::try_from(byte)
            .unwrap_or(usize::MAX)
            .min(self.data.len());
        while start < self.data.len() && matches!(self.data[start], b'\n' | b'\r') {
            start += 1;
        }
        self.advance(start);
        self.line
    }

    fn advance(&mut self, to: usize) {
        let to = to.min(self.data.len());
        for i in self.at..to {
            match self.data[i] {
                b'\n' => self.line += 1,
                // A CRLF counts once, at its LF.
                b'\r' if self.data.get(i + 1) != Some(&b'\n') => self.line += 1,
                _ => {}
            }
        }
        self.at = self.at.max(to);
    }
}

/// The rows of `data` that have problems, as a CSV to fix and import
/// again: the file's own header and values, with a `problems` column
/// naming each row's problems (its line in the uploaded file first).
/// None when the header itself is at fault (nothing to hand back).
pub(crate) fn rejected_rows(data: &[u8], errors: &[RowError]) -> Option<Bytes> {
    let mut problems: std::collections::BTreeMap<u64, Vec<String>> = Default::default();
    for e in errors {
        problems
            .entry(e.line)
            .or_default()
            .push(format!("{}: {}", e.field, e.message));
    }
    if problems.contains_key(&1) {
        return None;
    }
    let data = data.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(data);
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(data);
    let mut lines = LineCounter::new(data);
    let mut out = Vec::new();
    let text = |r: &csv::ByteRecord| -> Vec<String> {
        r.iter()
            .map(|f| neutralise(&String::from_utf8_lossy(f)))
            .collect()
    };
    let mut records = reader.byte_records();
    let mut header = text(&records.next()?.ok()?);
    header.push("problems".into());
    out.extend_from_slice(&write_record(&header));
    for record in records {
        let Ok(record) = record else {
            // The rest cannot be read as CSV: the report names the line.
            break;
        };
        let line = record.position().map_or(0, |p| lines.record_line(p.byte()));
        if let Some(found) = problems.get(&line) {
            let mut row = text(&record);
            row.push(format!("line {line}: {}", found.join("; ")));
            out.extend_from_slice(&write_record(&row));
        }
    }
    Some(Bytes::from(out))
}

/// Whether a value holds a line break (its quotes ran on over lines).
fn spans_lines(field: &str) -> bool {
    field.contains(['\n', '\r'])
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
    let mut lines = LineCounter::new(data);
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
    let columns = header_columns(&header)?;
    let mut errors = Vec::new();
    let mut rows = Vec::new();
    for record in records {
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                let line = e
                    .position()
                    .map_or(0, |p| LineCounter::new(data).record_line(p.byte()));
                errors.push(row_error(
                    line,
                    "row",
                    format!("cannot be read as CSV: {e}"),
                ));
                break;
            }
        };
        let line = record.position().map_or(0, |p| lines.record_line(p.byte()));
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
        match parse_row(&record, line, &columns, today) {
            Ok(row) => rows.push(row),
            Err(problems) => errors.extend(problems),
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

/// The field each column of the header holds (None: a column ignored on
/// purpose, e.g. the export's id); every unknown, repeated or missing
/// required column is an error on line 1.
fn header_columns(header: &csv::ByteRecord) -> Result<Vec<Option<StudentField>>, Vec<RowError>> {
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
    if errors.is_empty() {
        Ok(columns)
    } else {
        Err(errors)
    }
}

/// One data row on `line`: its student, or every problem it has.
fn parse_row(
    record: &csv::ByteRecord,
    line: u64,
    columns: &[Option<StudentField>],
    today: chrono::NaiveDate,
) -> Result<ImportRow, Vec<RowError>> {
    let mut raw = RawStudent::default();
    let mut errors = Vec::new();
    let mut broken = Vec::new();
    for (field, column) in record.iter().zip(columns) {
        let Some(column) = column else { continue };
        match std::str::from_utf8(field) {
            Ok(s) => {
                if spans_lines(s) && !column.keeps_lines() {
                    broken.push(*column);
                }
                raw.set(*column, restore(s));
            }
            Err(_) => {
                errors.push(row_error(
                    line,
                    column.name(),
                    "is not valid UTF-8 text; save the file as UTF-8",
                ));
            }
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let name = raw.get(StudentField::FullName).map(str::to_owned);
    let field_error = |f: srs_domain::FieldError| {
        let value = StudentField::named(&f.field)
            .and_then(|field| raw.get(field))
            .map(str::to_owned);
        row_error(line, &f.field, f.message).about(name.clone(), value)
    };
    // A one-line value run on over lines would be imported with its
    // line break folded away, unseen: refused, so the registrar fixes
    // the file. An address keeps its lines.
    errors.extend(broken.iter().map(|column| {
        row_error(
            line,
            column.name(),
            "holds a line break (its quotes run on to the next line); put the value on one line",
        )
        .about(name.clone(), raw.get(*column).map(str::to_owned))
    }));
    match NewStudent::parse(&raw, today) {
        Ok(student) if broken.is_empty() => Ok(ImportRow { line, student }),
        Ok(_) => Err(errors),
        Err(v) => {
            errors.extend(
                v.0.into_iter()
                    .filter(|f| !broken.iter().any(|b| b.name() == f.field))
                    .map(field_error),
            );
            Err(errors)
        }
    }
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
        for eol in ["\n", "\r\n"] {
            let csv = format!(
                "full_name,date_of_birth,department{eol}\"Ada{eol}Lovelace\",2004-01-01,Arts{eol}Cy Good,2001-01-01,Arts{eol}Bob,2020-01-01,Arts{eol}"
            );
            let (rows, errors) = parse_import(csv.as_bytes(), today());
            assert_eq!(rows.len(), 1, "{eol:?}: only Cy is whole");
            assert_eq!(rows[0].line, 4, "{eol:?}");
            let lines: Vec<(u64, &str)> =
                errors.iter().map(|e| (e.line, e.field.as_str())).collect();
            assert_eq!(
                lines,
                vec![(2, "full_name"), (5, "date_of_birth")],
                "{eol:?}: the name's line break is refused, Bob is on line 5"
            );
            assert!(errors[0].message.contains("line break"), "{errors:?}");
            assert_eq!(errors[1].name.as_deref(), Some("Bob"));
            assert_eq!(errors[1].value.as_deref(), Some("2020-01-01"));
        }
    }

    #[test]
    fn crlf_files_blank_lines_and_a_lone_bad_row_name_their_own_lines() {
        let header_and_one = "full_name,date_of_birth,department\r\nBob,2020-01-01,Arts\r\n";
        let (_, errors) = parse_import(header_and_one.as_bytes(), today());
        assert_eq!(errors[0].line, 2, "not the header: {errors:?}");
        let after_blanks =
            "full_name,date_of_birth,department\r\nAda Good,2001-01-01,Arts\r\n\r\n\r\n\r\nBob,2020-01-01,Arts\r\n";
        let (rows, errors) = parse_import(after_blanks.as_bytes(), today());
        assert_eq!(rows[0].line, 2);
        assert_eq!(errors[0].line, 6, "after three blank lines: {errors:?}");
        let bom_lf = "\u{feff}full_name,date_of_birth,department\n\nBob,2020-01-01,Arts";
        let (_, errors) = parse_import(bom_lf.as_bytes(), today());
        assert_eq!(errors[0].line, 3, "{errors:?}");
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

    /// One generated data row and what precedes it.
    #[derive(Debug, Clone)]
    struct GenRow {
        blank_lines: usize,
        blank_with_spaces: bool,
        eol: &'static str,
        /// 0 plain, 1 quoted, 2 quoted with doubled quotes, 3 spanning lines.
        kind: u8,
        first: String,
        last: String,
    }

    fn gen_row() -> impl proptest::strategy::Strategy<Value = GenRow> {
        use proptest::prelude::*;
        (
            0..3usize,
            any::<bool>(),
            prop_oneof![Just("\n"), Just("\r\n")],
            0..4u8,
            "[A-Z][a-z]{1,8}",
            "[A-Z][a-zé]{1,8}",
        )
            .prop_map(
                |(blank_lines, blank_with_spaces, eol, kind, first, last)| GenRow {
                    blank_lines,
                    blank_with_spaces,
                    eol,
                    kind,
                    first,
                    last,
                },
            )
    }

    /// A file of `rows` (row `bad` with a date that is not one), the line
    /// the bad row starts on, and the lines of rows whose name spans lines.
    fn gen_file(
        rows: &[GenRow],
        bad: usize,
        bom: bool,
        final_eol: bool,
    ) -> (String, u64, Vec<u64>) {
        let mut text = String::new();
        if bom {
            text.push('\u{feff}');
        }
        text.push_str("full_name,date_of_birth,department");
        text.push_str(rows.first().map_or("\n", |r| r.eol));
        let mut line = 2u64;
        let (mut expected, mut spanning) = (0, Vec::new());
        for (i, row) in rows.iter().enumerate() {
            for _ in 0..row.blank_lines {
                if row.blank_with_spaces {
                    text.push_str("  ");
                }
                text.push_str(row.eol);
                line += 1;
            }
            let start = line;
            let (first, last, eol) = (&row.first, &row.last, row.eol);
            let name = match row.kind {
                0 => format!("{first} {last}"),
                1 => format!("\"{first} {last}\""),
                2 => format!("\"{first} \"\"{last}\"\"\""),
                _ => {
                    line += 1;
                    spanning.push(start);
                    format!("\"{first}{eol}{last}\"")
                }
            };
            let date = if i == bad { "2001-02-30" } else { "2001-02-03" };
            text.push_str(&format!("{name},{date},Arts"));
            if i + 1 < rows.len() || final_eol {
                text.push_str(eol);
                line += 1;
            }
            if i == bad {
                expected = start;
            }
        }
        (text, expected, spanning)
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(300))]

        /// Whatever the file looks like, a bad value is reported on the
        /// line an editor shows it on, and every name run on over lines is
        /// refused on the line its row starts.
        #[test]
        fn reported_lines_are_the_editor_s_lines(
            rows in proptest::collection::vec(gen_row(), 1..20),
            bad in proptest::prelude::any::<proptest::sample::Index>(),
            bom in proptest::prelude::any::<bool>(),
            final_eol in proptest::prelude::any::<bool>(),
        ) {
            let bad = bad.index(rows.len());
            let (text, expected, spanning) = gen_file(&rows, bad, bom, final_eol);
            let (_, errors) = parse_import(text.as_bytes(), today());
            let dates: Vec<u64> = errors
                .iter()
                .filter(|e| e.field == "date_of_birth")
                .map(|e| e.line)
                .collect();
            proptest::prop_assert_eq!(dates, vec![expected], "{:?}", text);
            let broken: Vec<u64> = errors
                .iter()
                .filter(|e| e.message.contains("line break"))
                .map(|e| e.line)
                .collect();
            proptest::prop_assert_eq!(broken, spanning, "{:?}", text);
        }
    }

    #[test]
    fn rejected_rows_come_back_as_written_with_their_problems() {
        let file = "full_name,date_of_birth,department\r\nGood Row,2001-01-01,Arts\r\n\"Bad,\r\nRow\",2001-01-01,Arts\r\nYoung One,2020-01-01,=Arts\r\n";
        let (_, errors) = parse_import(file.as_bytes(), today());
        assert!(!errors.is_empty());
        let csv = rejected_rows(file.as_bytes(), &errors).expect("a report");
        let text = String::from_utf8(csv.to_vec()).expect("utf-8");
        let mut reader = csv::Reader::from_reader(text.as_bytes());
        let headers = reader.headers().expect("header").clone();
        assert_eq!(headers.get(3), Some("problems"));
        let rows: Vec<csv::StringRecord> = reader.records().map(|r| r.expect("row")).collect();
        assert!(rows.iter().all(|r| r.get(0) != Some("Good Row")), "{text}");
        let young = rows
            .iter()
            .find(|r| r.get(0) == Some("Young One"))
            .expect("the young one");
        assert!(
            young.get(3).is_some_and(|p| p.starts_with("line 5: ")),
            "{text}"
        );
        // A formula-looking cell is neutralised for spreadsheets.
        assert_eq!(young.get(2), Some("'=Arts"));
        // A header at fault gives no report.
        let (_, errors) = parse_import(b"nonsense\nx\n", today());
        assert!(rejected_rows(b"nonsense\nx\n", &errors).is_none());
    }
}
