//! The shareable report both faces write (`passbridge doctor --report DIR`, `passbridge
//! hybrid test --report DIR`, the window's "Export report"): `report.json` with the data and
//! `report.html`, one self-contained page — no scripts, no external assets, a
//! Content-Security-Policy that forbids loading anything — that opens offline on any machine.
//!
//! What it holds: the doctor's checks with their sentences, the cross-device test's timeline
//! (drawn as a chart: each phase a bar on the test's time axis), the phone's getInfo and
//! attestation, and the machine's facts (OS, kernel, Passbridge's version). What it never
//! holds: keys, the QR code's secret, credential IDs, user handles — the core's types it is
//! built from do not carry them.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use passbridge_core::about::{AppInfo, MachineFacts};
use passbridge_core::diagnostics::{self, Check, Status};
use passbridge_core::phone::cross_device::{CeremonyRun, CrossDeviceRun};
use serde_json::{Value, json};

use crate::doctor_words::{
    area_word, attestation_words, ceremony_word, chromium_words, format_time, message, phase_word,
    status_word,
};

/// The file names written into the report directory.
pub const JSON_NAME: &str = "report.json";
/// See [`JSON_NAME`].
pub const HTML_NAME: &str = "report.html";

/// The cross-device test's part of a report.
#[derive(Debug, Clone, Copy)]
pub struct TestSection<'a> {
    /// What the test found.
    pub run: &'a CrossDeviceRun,
    /// Why it failed, in the words of the face that ran it (and what to do).
    pub failure: Option<&'a str>,
}

/// Everything a report shows.
#[derive(Debug, Clone)]
pub struct ReportInput<'a> {
    /// When it was made (Unix seconds).
    pub generated_unix: u64,
    /// This build.
    pub app: AppInfo,
    /// This machine.
    pub machine: MachineFacts,
    /// The doctor's checks (may be empty).
    pub checks: &'a [Check],
    /// The cross-device test, if one ran.
    pub test: Option<TestSection<'a>>,
}

impl ReportInput<'_> {
    /// The worst outcome: a failed check or a failed test is a failure.
    pub fn status(&self) -> Status {
        let checks = diagnostics::worst(self.checks);
        match self.test {
            Some(test) if !test.run.passed() => Status::Fail,
            _ => checks,
        }
    }
}

fn phases_json(run: &CeremonyRun) -> Value {
    let marks: Vec<Value> = run
        .marks
        .iter()
        .map(|mark| {
            json!({
                "phase": mark.phase,
                "name": phase_word(mark.phase),
                "at_ms": mark.at_ms,
                "chromium": mark.phase.chromium(),
            })
        })
        .collect();
    json!({
        "kind": run.kind,
        "name": ceremony_word(run.kind),
        "started_ms": run.started_ms,
        "total_ms": run.total_ms,
        "tunnel": run.tunnel,
        "phases": marks,
        "failed_at": run.failed_at.map(|phase| json!({
            "phase": phase,
            "name": phase_word(phase),
            "chromium": phase.chromium(),
        })),
    })
}

/// The report as data (`report.json`).
pub fn to_json(input: &ReportInput<'_>) -> Value {
    let checks: Vec<Value> = input
        .checks
        .iter()
        .map(|check| {
            let mut line = serde_json::to_value(check).unwrap_or(Value::Null);
            if let Value::Object(map) = &mut line {
                map.insert("message".to_owned(), json!(message(&check.finding)));
            }
            line
        })
        .collect();
    let test = input.test.map(|test| {
        let run = test.run;
        json!({
            "passed": run.passed(),
            "rp_id": run.rp_id,
            "virtual_phone": run.virtual_phone,
            "relay": run.relay,
            "started": run.started_unix,
            "total_ms": run.total_ms,
            "ceremonies": run.ceremonies.iter().map(phases_json).collect::<Vec<_>>(),
            "phone_info": run.phone_info,
            "attestation": run.attestation.as_ref().map(|facts| json!({
                "format": run.attestation_format,
                "facts": facts,
                "summary": attestation_words(run.attestation_format.as_deref().unwrap_or(""), facts),
            })),
            "flags": run.flags.iter().map(|f| passbridge_core::webauthn::describe_flags(*f)).collect::<Vec<_>>(),
            "failure": test.failure,
        })
    });
    json!({
        "report": "passbridge-diagnostics",
        "version": 1,
        "generated": input.generated_unix,
        "generated_text": format_time(input.generated_unix),
        "status": input.status(),
        "app": input.app,
        "machine": input.machine,
        "checks": checks,
        "cross_device_test": test,
    })
}

/// Text made safe for HTML (element content and quoted attributes).
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn status_class(status: Status) -> &'static str {
    match status {
        Status::Pass => "pass",
        Status::Warn => "warn",
        Status::Fail => "fail",
    }
}

/// Milliseconds as a person reads them.
fn duration_text(ms: f64) -> String {
    if ms >= 10_000.0 {
        format!("{:.0} s", ms / 1000.0)
    } else if ms >= 1000.0 {
        format!("{:.1} s", ms / 1000.0)
    } else {
        format!("{ms:.1} ms")
    }
}

/// A tick step giving at most about 8 ticks over `total` (1, 2 or 5 times a power of ten).
fn tick_step(total: f64) -> f64 {
    let rough = (total / 8.0).max(0.1);
    let magnitude = 10f64.powf(rough.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * magnitude)
        .find(|step| *step >= rough)
        .unwrap_or(rough)
}

const CHART_LEFT: f64 = 330.0;
const CHART_WIDTH: f64 = 560.0;
/// Room right of the axis for the last tick's label and the last mark's time.
const CHART_RIGHT: f64 = 80.0;
const ROW: f64 = 20.0;

/// The timeline: one row per phase of each ceremony, a bar from the previous phase to this
/// one (the wait for it) on the test's time axis; the phase not reached in red.
fn timeline_svg(run: &CrossDeviceRun) -> String {
    let total = run
        .ceremonies
        .iter()
        .map(|c| c.started_ms + c.total_ms)
        .fold(run.total_ms, f64::max)
        .max(1.0);
    let rows: u32 = run
        .ceremonies
        .iter()
        .map(|c| {
            let marks = u32::try_from(c.marks.len()).unwrap_or(u32::MAX);
            marks
                .saturating_add(u32::from(c.failed_at.is_some()))
                .saturating_add(1)
        })
        .fold(0, u32::saturating_add);
    let height = ROW * f64::from(rows) + 40.0;
    let x = |ms: f64| CHART_LEFT + ms / total * CHART_WIDTH;
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg class="timeline" role="img" aria-label="Timeline of the cross-device test" xmlns="http://www.w3.org/2000/svg" width="{w}" height="{height}" viewBox="0 0 {w} {height}">"#,
        w = CHART_LEFT + CHART_WIDTH + CHART_RIGHT
    );
    // The axis, with ticks.
    let axis_y = height - 22.0;
    let step = tick_step(total);
    let mut tick = 0.0;
    while tick <= total + step / 2.0 {
        let _ = write!(
            svg,
            r##"<line x1="{tx:.1}" y1="0" x2="{tx:.1}" y2="{axis_y:.1}" stroke="#ddd"/><text x="{tx:.1}" y="{ty:.1}" class="tick">{label}</text>"##,
            tx = x(tick),
            ty = axis_y + 15.0,
            label = escape(&duration_text(tick)),
        );
        tick += step;
    }
    let mut y = 0.0;
    for ceremony in &run.ceremonies {
        let _ = write!(
            svg,
            r#"<text x="4" y="{:.1}" class="lane">{}</text>"#,
            y + 14.0,
            escape(ceremony_word(ceremony.kind))
        );
        y += ROW;
        let mut previous = 0.0;
        for mark in &ceremony.marks {
            let from = x(ceremony.started_ms + previous);
            let to = x(ceremony.started_ms + mark.at_ms);
            let _ = write!(
                svg,
                r#"<text x="16" y="{ty:.1}" class="phase">{name}</text><rect x="{from:.1}" y="{ry:.1}" width="{w:.1}" height="12" class="bar"><title>{name}: {at}</title></rect><circle cx="{to:.1}" cy="{cy:.1}" r="3" class="mark"/><text x="{lx:.1}" y="{ty:.1}" class="at">{at}</text>"#,
                ty = y + 14.0,
                name = escape(phase_word(mark.phase)),
                ry = y + 4.0,
                w = (to - from).max(1.0),
                cy = y + 10.0,
                lx = to + 6.0,
                at = escape(&duration_text(mark.at_ms)),
            );
            previous = mark.at_ms;
            y += ROW;
        }
        if let Some(phase) = ceremony.failed_at {
            let from = x(ceremony.started_ms + previous);
            let to = x(ceremony.started_ms + ceremony.total_ms);
            let _ = write!(
                svg,
                r#"<text x="16" y="{ty:.1}" class="phase missing">{name} — not reached</text><rect x="{from:.1}" y="{ry:.1}" width="{w:.1}" height="12" class="bar missing"><title>waited {waited} for {name}</title></rect>"#,
                ty = y + 14.0,
                name = escape(phase_word(phase)),
                ry = y + 4.0,
                w = (to - from).max(1.0),
                waited = escape(&duration_text(ceremony.total_ms - previous)),
            );
            y += ROW;
        }
    }
    svg.push_str("</svg>");
    svg
}

const STYLE: &str = "body{font:15px/1.45 system-ui,sans-serif;margin:2rem auto;max-width:60rem;\
padding:0 1rem;color:#1d2430}h1{font-size:1.5rem}h2{font-size:1.15rem;margin-top:2rem}\
table{border-collapse:collapse;width:100%}td,th{text-align:left;vertical-align:top;\
padding:.3rem .5rem;border-bottom:1px solid #e3e6ea}th{font-weight:600}\
.badge{display:inline-block;min-width:3rem;text-align:center;border-radius:.3rem;\
padding:0 .4rem;font-weight:600;font-size:.8rem}.pass .badge,.badge.pass{background:#d7f2df;color:#135c2c}\
.warn .badge,.badge.warn{background:#fdf0c8;color:#6b4e00}.fail .badge,.badge.fail{background:#fbd9d6;color:#8a1c12}\
.timeline{max-width:100%;height:auto}.timeline text{font-size:12px;fill:#1d2430}.timeline .tick{font-size:11px;\
fill:#666;text-anchor:middle}.timeline .lane{font-weight:600}.timeline .bar{fill:#6d8fd8}\
.timeline .bar.missing{fill:#e07b70}.timeline .phase.missing{fill:#8a1c12}.timeline .mark{fill:#1d3f8a}\
.timeline .at{font-size:11px;fill:#555}dl{display:grid;grid-template-columns:12rem 1fr;gap:.2rem 1rem}\
dt{font-weight:600}dd{margin:0}.failure{border-left:4px solid #d2483b;background:#fdf1f0;padding:.6rem 1rem}\
code{font:13px ui-monospace,monospace}footer{margin-top:3rem;color:#666;font-size:.85rem}";

fn facts_list(out: &mut String, facts: &[(&str, String)]) {
    out.push_str("<dl>");
    for (name, value) in facts {
        if value.is_empty() {
            continue;
        }
        let _ = write!(out, "<dt>{}</dt><dd>{}</dd>", escape(name), escape(value));
    }
    out.push_str("</dl>");
}

fn test_html(out: &mut String, test: TestSection<'_>) {
    let run = test.run;
    let verdict = if run.passed() {
        "passed: the registration and the sign-in both verified"
    } else {
        "failed"
    };
    let _ = write!(
        out,
        r#"<h2>Cross-device test</h2><p class="{class}"><span class="badge">{word}</span> {verdict} in {total}, with {phone}.</p>"#,
        class = if run.passed() { "pass" } else { "fail" },
        word = if run.passed() { "PASS" } else { "FAIL" },
        total = escape(&duration_text(run.total_ms)),
        phone = if run.virtual_phone {
            "the virtual phone"
        } else {
            "a phone"
        },
    );
    if let Some((ceremony, phase)) = run.failed_at() {
        let _ = write!(
            out,
            r#"<div class="failure"><p>The {ceremony} stopped before <b>{phase}</b>.</p>{words}<p>On an Android phone, the same point in its log: {chromium}.</p></div>"#,
            ceremony = escape(ceremony_word(ceremony)),
            phase = escape(phase_word(phase)),
            words = test
                .failure
                .map(|w| format!("<p>{}</p>", escape(w)))
                .unwrap_or_default(),
            chromium = escape(&chromium_words(phase)),
        );
    }
    out.push_str(&timeline_svg(run));
    let tunnel = run
        .ceremonies
        .iter()
        .find_map(|c| c.tunnel.clone())
        .unwrap_or_default();
    let mut facts = vec![
        ("Relying party", run.rp_id.clone()),
        ("Tunnel", tunnel),
        ("Started", format_time(run.started_unix)),
        (
            "Flags",
            run.flags
                .iter()
                .map(|f| passbridge_core::webauthn::describe_flags(*f))
                .collect::<Vec<_>>()
                .join(" / "),
        ),
    ];
    if let Some(attestation) = &run.attestation {
        facts.push((
            "Attestation",
            attestation_words(run.attestation_format.as_deref().unwrap_or(""), attestation),
        ));
    }
    if let Some(info) = &run.phone_info {
        facts.push(("Phone AAGUID", info.aaguid.clone()));
        facts.push(("Versions", info.versions.join(", ")));
        facts.push(("Transports", info.transports.join(", ")));
        facts.push(("Extensions", info.extensions.join(", ")));
        facts.push((
            "Options",
            info.options
                .iter()
                .map(|(name, on)| format!("{name}={on}"))
                .collect::<Vec<_>>()
                .join(", "),
        ));
        facts.push((
            "Algorithms",
            info.algorithms
                .iter()
                .map(i64::to_string)
                .collect::<Vec<_>>()
                .join(", "),
        ));
    }
    facts_list(out, &facts);
    out.push_str(
        "<p>The phone's getInfo is what it says about itself; nothing in it is attested.</p>",
    );
    // Every phase with Chromium's phone-side names, for comparing with a phone's log.
    out.push_str(
        "<table><tr><th>Ceremony</th><th>Phase</th><th>At</th><th>Chromium (phone side)</th></tr>",
    );
    for ceremony in &run.ceremonies {
        for mark in &ceremony.marks {
            let _ = write!(
                out,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td><code>{}</code></td></tr>",
                escape(ceremony_word(ceremony.kind)),
                escape(phase_word(mark.phase)),
                escape(&duration_text(mark.at_ms)),
                escape(&chromium_words(mark.phase)),
            );
        }
    }
    out.push_str("</table>");
}

/// The report as one self-contained page (`report.html`).
pub fn to_html(input: &ReportInput<'_>) -> String {
    let status = input.status();
    let mut out = String::new();
    let _ = write!(
        out,
        r#"<!doctype html><html lang="en"><head><meta charset="utf-8"><meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:"><meta name="viewport" content="width=device-width, initial-scale=1"><title>Passbridge diagnostics — {when}</title><style>{STYLE}</style></head><body><h1>Passbridge diagnostics</h1><p class="{class}"><span class="badge">{word}</span> {when}</p>"#,
        when = escape(&format_time(input.generated_unix)),
        class = status_class(status),
        word = status_word(status),
    );
    if let Some(test) = input.test {
        test_html(&mut out, test);
    }
    if !input.checks.is_empty() {
        out.push_str("<h2>Checks</h2><table><tr><th>Result</th><th>Area</th><th>Finding</th></tr>");
        for check in input.checks {
            let _ = write!(
                out,
                r#"<tr class="{}"><td><span class="badge">{}</span></td><td>{}</td><td>{}</td></tr>"#,
                status_class(check.status),
                status_word(check.status),
                escape(area_word(check.area)),
                escape(&message(&check.finding)),
            );
        }
        out.push_str("</table>");
    }
    out.push_str("<h2>This machine</h2>");
    facts_list(
        &mut out,
        &[
            (
                "Passbridge",
                format!("{} {}", input.app.name, input.app.version),
            ),
            ("System", input.machine.os.clone().unwrap_or_default()),
            ("Kernel", input.machine.kernel.clone().unwrap_or_default()),
            ("Architecture", input.machine.arch.to_owned()),
        ],
    );
    out.push_str(
        "<footer>Made by Passbridge. It holds no keys, QR secrets or credential IDs.</footer></body></html>\n",
    );
    out
}

/// Writes `report.json` and `report.html` into `dir` (created if needed); returns the HTML
/// file's path.
///
/// # Errors
/// The file system's.
pub fn write(dir: &Path, input: &ReportInput<'_>) -> std::io::Result<PathBuf> {
    std::fs::create_dir_all(dir)?;
    let json = serde_json::to_string_pretty(&to_json(input)).map_err(std::io::Error::other)?;
    std::fs::write(dir.join(JSON_NAME), json + "\n")?;
    let html = dir.join(HTML_NAME);
    std::fs::write(&html, to_html(input))?;
    Ok(html)
}

#[cfg(test)]
mod tests {
    use passbridge_core::phone::cross_device::{CeremonyKind, PhaseMark, TestPhase};

    use super::*;

    fn run(failed: bool) -> CrossDeviceRun {
        let marks = |upto: usize| {
            TestPhase::ALL
                .into_iter()
                .take(upto)
                .zip(0u32..)
                .map(|(phase, i)| PhaseMark {
                    phase,
                    at_ms: 10.0 * f64::from(i),
                })
                .collect::<Vec<_>>()
        };
        let registration = CeremonyRun {
            kind: CeremonyKind::Registration,
            started_ms: 0.0,
            marks: marks(9),
            tunnel: Some("ws://127.0.0.1:1".to_owned()),
            total_ms: 85.0,
            failed_at: None,
        };
        let sign_in = CeremonyRun {
            kind: CeremonyKind::SignIn,
            started_ms: 90.0,
            marks: marks(if failed { 7 } else { 9 }),
            tunnel: Some("ws://127.0.0.1:1".to_owned()),
            total_ms: if failed { 5000.0 } else { 85.0 },
            failed_at: failed.then_some(TestPhase::PhoneAnswered),
        };
        CrossDeviceRun {
            rp_id: "cross-device-test.invalid".to_owned(),
            virtual_phone: true,
            relay: Some("ws://127.0.0.1:1".to_owned()),
            started_unix: 1_800_000_000,
            ceremonies: vec![registration, sign_in],
            phone_info: None,
            attestation_format: Some("packed".to_owned()),
            attestation: None,
            flags: vec![0x45],
            total_ms: 175.0,
            failure: failed.then_some(passbridge_core::phone::PhoneFailure::Timeout {
                waited: std::time::Duration::from_secs(5),
            }),
        }
    }

    fn input<'a>(run: &'a CrossDeviceRun, words: Option<&'a str>) -> ReportInput<'a> {
        ReportInput {
            generated_unix: 1_800_000_100,
            app: passbridge_core::about::app_info(false),
            machine: passbridge_core::about::machine_facts(),
            checks: &[],
            test: Some(TestSection {
                run,
                failure: words,
            }),
        }
    }

    #[test]
    fn the_page_loads_nothing_and_escapes_what_it_shows() {
        let run = run(true);
        let html = to_html(&input(
            &run,
            Some("the phone <did not> answer & \"timed out\""),
        ));
        assert!(html.contains("default-src 'none'"));
        // No script, and nothing fetched from anywhere (the SVG namespace is not a fetch).
        assert!(!html.contains("<script"), "{html}");
        for attribute in ["src=", "href=", "url("] {
            assert!(!html.contains(attribute), "{attribute} in the page");
        }
        assert!(html.contains("the phone &lt;did not&gt; answer &amp; &quot;timed out&quot;"));
        assert!(html.contains("phone answered — not reached"));
        assert!(
            html.contains("NO_SCREENLOCK"),
            "Chromium's names for the failing phase"
        );
    }

    #[test]
    fn the_data_names_the_failing_phase_and_the_status_is_fail() {
        let failed = run(true);
        let report = input(&failed, Some("words"));
        assert_eq!(report.status(), Status::Fail);
        let json = to_json(&report);
        let test = &json["cross_device_test"];
        assert_eq!(test["passed"], false);
        assert_eq!(
            test["ceremonies"][1]["failed_at"]["phase"],
            "phone-answered"
        );
        assert_eq!(
            test["ceremonies"][0]["phases"][3]["chromium"]["status"],
            "TUNNEL_SERVER_CONNECT"
        );
        assert_eq!(test["failure"], "words");
        let passed = run(false);
        let report = input(&passed, None);
        assert_eq!(report.status(), Status::Pass);
        assert_eq!(to_json(&report)["cross_device_test"]["passed"], true);
    }

    #[test]
    fn ticks_are_round_numbers() {
        assert!((tick_step(175.0) - 50.0).abs() < f64::EPSILON);
        assert!((tick_step(5000.0) - 1000.0).abs() < f64::EPSILON);
        assert!((tick_step(3.0) - 0.5).abs() < f64::EPSILON);
    }
}
