//! Printing results: an aligned table for people (colours only on a terminal, never with
//! `NO_COLOR`), CSV or JSON for scripts.

use std::io::{IsTerminal, Write};

use serde_json::Value;

/// How results are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Aligned columns.
    Table,
    /// JSON, one document.
    Json,
    /// CSV with a header line.
    Csv,
}

impl Format {
    /// JSON when `--json` was given, else a table (tools that print no CSV).
    pub fn json_or_table(json: bool) -> Format {
        if json {
            Format::Json
        } else {
            Format::Table
        }
    }
}

/// A colour for a cell (shown only on a terminal).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tone {
    /// As is.
    Plain,
    /// Good news (finished).
    Good,
    /// Bad news (failed).
    Bad,
    /// Something in progress (running).
    Busy,
    /// Less important (deleted, missing).
    Dim,
}

impl Tone {
    fn ansi(self) -> &'static str {
        match self {
            Tone::Plain => "",
            Tone::Good => "\x1b[32m",
            Tone::Bad => "\x1b[31m",
            Tone::Busy => "\x1b[34m",
            Tone::Dim => "\x1b[2m",
        }
    }

    /// The tone of a run status.
    pub fn of_status(status: &str) -> Tone {
        match status {
            "FINISHED" => Tone::Good,
            "FAILED" | "KILLED" => Tone::Bad,
            "RUNNING" | "SCHEDULED" => Tone::Busy,
            _ => Tone::Plain,
        }
    }
}

/// Rows with named columns.
#[derive(Debug, Default)]
pub struct Table {
    headers: Vec<String>,
    rows: Vec<Vec<(String, Tone)>>,
}

impl Table {
    /// A table with these column names.
    pub fn new<S: Into<String>>(headers: impl IntoIterator<Item = S>) -> Table {
        Table {
            headers: headers.into_iter().map(Into::into).collect(),
            rows: Vec::new(),
        }
    }

    /// Adds a row of plain cells.
    pub fn row<S: Into<String>>(&mut self, cells: impl IntoIterator<Item = S>) {
        self.rows
            .push(cells.into_iter().map(|c| (c.into(), Tone::Plain)).collect());
    }

    /// Adds a row of cells with tones.
    pub fn toned_row(&mut self, cells: Vec<(String, Tone)>) {
        self.rows.push(cells);
    }

    /// Writes the table aligned (`colour`: ANSI colours on).
    pub fn write_aligned(&self, out: &mut impl Write, colour: bool) -> std::io::Result<()> {
        let mut widths: Vec<usize> = self.headers.iter().map(|h| h.chars().count()).collect();
        for row in &self.rows {
            for (i, (cell, _)) in row.iter().enumerate() {
                if let Some(w) = widths.get_mut(i) {
                    *w = (*w).max(cell.chars().count());
                }
            }
        }
        let line = |out: &mut dyn Write,
                    cells: &mut dyn Iterator<Item = (&str, Tone)>,
                    bold: bool|
         -> std::io::Result<()> {
            let mut text = String::new();
            for (i, (cell, tone)) in cells.enumerate() {
                if i > 0 {
                    text.push_str("  ");
                }
                let pad = widths[i].saturating_sub(cell.chars().count());
                let last = i + 1 == widths.len();
                let style = if bold { "\x1b[1m" } else { tone.ansi() };
                if colour && !style.is_empty() {
                    text.push_str(style);
                    text.push_str(cell);
                    text.push_str("\x1b[0m");
                } else {
                    text.push_str(cell);
                }
                if !last {
                    text.push_str(&" ".repeat(pad));
                }
            }
            writeln!(out, "{}", text.trim_end())
        };
        line(
            out,
            &mut self.headers.iter().map(|h| (h.as_str(), Tone::Plain)),
            true,
        )?;
        for row in &self.rows {
            line(out, &mut row.iter().map(|(c, t)| (c.as_str(), *t)), false)?;
        }
        Ok(())
    }

    /// Writes the table as CSV.
    pub fn write_csv(&self, out: impl Write) -> std::io::Result<()> {
        let mut w = csv::Writer::from_writer(out);
        w.write_record(&self.headers)
            .map_err(std::io::Error::other)?;
        for row in &self.rows {
            w.write_record(row.iter().map(|(c, _)| c))
                .map_err(std::io::Error::other)?;
        }
        w.flush()
    }
}

/// Whether stdout gets colours: a terminal, and `NO_COLOR` unset.
pub fn colour_stdout() -> bool {
    std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none()
}

/// Prints `table` (or, as JSON, `json`) in `format` on stdout.
pub fn print(format: Format, table: &Table, json: Value) -> std::io::Result<()> {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match format {
        Format::Table => table.write_aligned(&mut out, colour_stdout()),
        Format::Csv => table.write_csv(&mut out),
        Format::Json => {
            serde_json::to_writer_pretty(&mut out, &json).map_err(std::io::Error::other)?;
            writeln!(out)
        }
    }
}

/// Milliseconds since the epoch as `YYYY-MM-DD HH:MM:SS` (UTC); empty for `None`.
pub fn time(ms: Option<i64>) -> String {
    ms.map(trackd_server::domain::utc_datetime)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_align_and_colour_only_when_asked() {
        let mut t = Table::new(["id", "name"]);
        t.row(["1", "a long name"]);
        t.toned_row(vec![("22".into(), Tone::Good), ("b".into(), Tone::Plain)]);
        let mut plain = Vec::new();
        t.write_aligned(&mut plain, false).unwrap();
        assert_eq!(
            String::from_utf8(plain).unwrap(),
            "id  name\n1   a long name\n22  b\n"
        );
        let mut coloured = Vec::new();
        t.write_aligned(&mut coloured, true).unwrap();
        assert!(String::from_utf8(coloured)
            .unwrap()
            .contains("\x1b[32m22\x1b[0m"));
    }

    #[test]
    fn csv_quotes_what_needs_it() {
        let mut t = Table::new(["k", "v"]);
        t.row(["a,b", "say \"hi\""]);
        let mut out = Vec::new();
        t.write_csv(&mut out).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "k,v\n\"a,b\",\"say \"\"hi\"\"\"\n"
        );
    }

    #[test]
    fn times_are_utc() {
        assert_eq!(time(Some(0)), "1970-01-01 00:00:00");
        assert_eq!(time(Some(951_782_400_000)), "2000-02-29 00:00:00");
        assert_eq!(time(None), "");
    }
}
