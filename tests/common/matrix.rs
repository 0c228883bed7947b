//! A fault matrix's table, written past the test harness's capture (straight to the process's
//! stderr): the matrix is the test's report, whether its cells held or not.

use std::io::Write as _;

/// Writes `title`, then `header` and `rows` in columns as wide as their widest cell.
pub fn print(title: &str, header: &[&str], rows: &[Vec<String>]) {
    let mut widths: Vec<usize> = header.iter().map(|cell| cell.chars().count()).collect();
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let line = |cells: &mut dyn Iterator<Item = &str>| {
        let padded: Vec<String> = cells
            .zip(&widths)
            .map(|(cell, width)| format!("{cell:<width$}"))
            .collect();
        padded.join("  ").trim_end().to_owned() + "\n"
    };
    let mut table = format!("\n{title}\n");
    table += &line(&mut header.iter().copied());
    for row in rows {
        table += &line(&mut row.iter().map(String::as_str));
    }
    let _ = std::io::stderr().write_all(table.as_bytes());
}

/// A measured time as the matrices show it.
pub fn millis(measured: Option<std::time::Duration>) -> String {
    measured.map_or_else(|| "never".to_owned(), |m| format!("{} ms", m.as_millis()))
}

/// A cell's verdict: `kept`, or what broke.
pub fn verdict(kept: bool, note: &str) -> String {
    if kept {
        "kept".to_owned()
    } else {
        format!("BROKEN {note}")
    }
}
