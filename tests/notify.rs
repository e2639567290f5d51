//! The email a finance team receives: rendered from a realistic run report, written as a
//! parseable `.eml`, and delivered over SMTP to a real SMTP server listening on loopback.

mod common;

use chrono::{TimeZone, Utc};
use flexiti_recon::domain::{Category, DayRange, Discrepancy, LedgerReject};
use flexiti_recon::notify::{
    EmailConfigError, EmailPolicy, EmailSettings, Mailer, RenderOptions, RenderedEmail, SendError,
    SentTo, TlsMode, TransportKind, render, render_failure, should_send,
};
use flexiti_recon::report::{
    ChangeSummary, DayStoreTotals, FailedCall, FindingStatus, RunReport, RunStatus,
    StoredDiscrepancy,
};
use mailparse::{MailHeaderMap, ParsedMail};
use secrecy::SecretString;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

use common::{day, sample_day, side};

/// The shared finding, with this file's capture and ledger row ids.
fn finding(
    category: Category,
    reference: &str,
    flexiti: Option<i64>,
    ledger: Option<i64>,
    id: &str,
) -> Discrepancy {
    Discrepancy {
        flexiti_id: flexiti.map(|_| format!("capture:{id}")),
        ledger_line: ledger.map(|_| 17),
        ledger_id: ledger.map(|_| format!("row-{id}")),
        ..common::finding(category, reference, flexiti, ledger)
    }
}

/// A partial night: five findings, two failed calls, 25 rejected rows, one day not fully fetched.
fn report() -> RunReport {
    let discrepancies = vec![
        finding(
            Category::AmountMismatch,
            "ORD-20261123-000123",
            Some(129_999),
            Some(128_799),
            "346123",
        ),
        finding(
            Category::MissingInLedger,
            "ORD-20261123-000200",
            Some(45_000),
            None,
            "346200",
        ),
        finding(
            Category::MissingInFlexiti,
            "<script>alert(1)</script>",
            None,
            Some(2_500),
            "x1",
        ),
        finding(
            Category::DateMismatch,
            "ORD-20261123-000300",
            Some(10_000),
            Some(10_000),
            "346300",
        ),
        finding(
            Category::Unverified,
            "ORD-20261123-000400",
            None,
            Some(123_456_789),
            "x2",
        ),
    ];
    let resolved_finding = finding(
        Category::MissingInLedger,
        "ORD-20261120-000999",
        Some(7_700),
        None,
        "340000",
    );
    let changes = ChangeSummary {
        new: vec![
            discrepancies[0].fingerprint(),
            discrepancies[2].fingerprint(),
        ],
        still_open: vec![(discrepancies[1].fingerprint(), 3)],
        resolved_count: 1,
        resolved: vec![StoredDiscrepancy {
            id: 12,
            fingerprint: resolved_finding.fingerprint(),
            discrepancy: resolved_finding,
            status: FindingStatus::Resolved,
            first_seen_run: 40,
            last_seen_run: 41,
            first_seen_at: Utc::now(),
            last_seen_at: Utc::now(),
            resolved_run: Some(42),
            note: None,
        }],
    };
    let rejects = (1..=25)
        .map(|i| LedgerReject {
            file: "ledger-2026-11-23.csv".into(),
            line: i + 1,
            reason: format!("bad amount 'abc{i}'"),
            raw: String::new(),
        })
        .collect();
    RunReport {
        run_id: 42,
        range: DayRange::single(sample_day()),
        trigger: "cron".into(),
        started_at: Utc
            .with_ymd_and_hms(2026, 11, 24, 7, 0, 0)
            .single()
            .expect("start"),
        finished_at: Utc
            .with_ymd_and_hms(2026, 11, 24, 7, 1, 30)
            .single()
            .expect("end"),
        x_reference_id: "5f0c1a2e-run".into(),
        status: RunStatus::Partial,
        discrepancies,
        totals: vec![
            DayStoreTotals {
                business_date: sample_day(),
                store: "00-12345".into(),
                flexiti: side(3, 184_999, 0),
                ledger: side(4, 1_235_095_588, 0),
            },
            DayStoreTotals {
                business_date: sample_day(),
                store: "00-67890".into(),
                flexiti: side(1, 10_000, 2_000),
                ledger: side(1, 10_000, 2_000),
            },
        ],
        failed_calls: vec![
            FailedCall {
                endpoint: "GET /v2.5.1/client-id/{client_id}/captures".into(),
                parameters:
                    "creation_date_from=2026-11-24&creation_date_to=2026-11-24&page_number=2".into(),
                http_status: Some(503),
                error_code: None,
                message: "service unavailable".into(),
                attempts: 4,
                duration_ms: 9_000,
                x_reference_id: "call-1".into(),
                utc_date: Some(day(24)),
            },
            FailedCall {
                endpoint: "GET /v2.5.1/client-id/{client_id}/authorizations".into(),
                parameters: "account_number=20076677&page_number=1".into(),
                http_status: Some(409),
                error_code: Some("invalid_role".into()),
                message: "account 20076677 is not allowed".into(),
                attempts: 1,
                duration_ms: 120,
                x_reference_id: "call-2".into(),
                utc_date: None,
            },
        ],
        rejects,
        ignored_other_tender: 7,
        incomplete_days: vec![sample_day()],
        flexiti_records: 4,
        ledger_rows: 5,
        matched_pairs: 3,
        changes,
    }
}

fn options() -> RenderOptions {
    RenderOptions {
        merchant_name: "Maple & Pine Furniture".into(),
        ..RenderOptions::default()
    }
}

#[test]
fn the_subject_names_the_day_the_findings_their_money_and_the_failed_calls() {
    let email = render(&report(), &options()).expect("render");
    assert_eq!(
        email.subject,
        "[flexiti-recon] PARTIAL 2026-11-23: 5 discrepancies (1,235,054.89 CAD), 2 failed API calls"
    );
    let mut succeeded = report();
    succeeded.status = RunStatus::Succeeded;
    succeeded.failed_calls.truncate(1);
    succeeded.discrepancies.truncate(1);
    assert_eq!(
        render(&succeeded, &options()).expect("render").subject,
        "[flexiti-recon] 2026-11-23: 1 discrepancy (12.00 CAD), 1 failed API call"
    );
}

#[test]
fn both_bodies_carry_totals_categories_changes_and_what_could_not_be_checked() {
    let email = render(&report(), &options()).expect("render");
    for body in [&email.text, &email.html] {
        for expected in [
            "00-12345",
            "12,350,955.88",
            "12,349,105.89",
            "5 discrepancies (4 errors, 1 warning)",
            "amount_mismatch",
            "unverified",
            "2 new, 1 still open, 1 resolved",
            "3 days",
            "ORD-20261120-000999",
            "Not fully fetched: 2026-11-23",
            "reported as unverified",
            "invalid_role",
            "service unavailable",
            "creation_date_from=2026-11-24",
            "ledger-2026-11-23.csv:2: bad amount",
            "and 5 more",
            "Largest discrepancies (top 5)",
        ] {
            assert!(body.contains(expected), "missing {expected:?} in:\n{body}");
        }
    }
    let text = &email.text;
    let largest = text.find("Largest discrepancies").expect("largest section");
    let first = text[largest..]
        .find("ORD-20261123-000400")
        .expect("largest first");
    let second = text[largest..]
        .find("ORD-20261123-000200")
        .expect("then the next");
    assert!(first < second, "largest by |delta| first");
    assert!(email.html.contains("Maple &amp; Pine Furniture"));
}

#[test]
fn a_run_that_resolves_more_than_it_lists_counts_them_all() {
    let mut report = report();
    let listed = report.changes.resolved[0].clone();
    report.changes.resolved_count = 250;
    report.changes.resolved = (0..ChangeSummary::RESOLVED_LISTED)
        .map(|i| StoredDiscrepancy {
            id: listed.id + i as i64,
            ..listed.clone()
        })
        .collect();
    let opts = options();
    let email = render(&report, &opts).expect("render");
    let more = format!("and {} more", 250 - opts.list_cap);
    for body in [&email.text, &email.html] {
        assert!(body.contains("2 new, 1 still open, 250 resolved"), "{body}");
        assert!(body.contains(&more), "missing {more:?} in:\n{body}");
    }
}

#[test]
fn data_is_escaped_in_html_and_account_numbers_are_masked() {
    let email = render(&report(), &options()).expect("render");
    assert!(email.html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(!email.html.contains("<script>"));
    assert!(
        email.text.contains("<script>alert(1)</script>"),
        "plain text is not escaped"
    );
    for body in [&email.text, &email.html] {
        assert!(body.contains("****6677"), "{body}");
        assert!(!body.contains("20076677"), "{body}");
    }
}

#[test]
fn the_attachment_is_the_discrepancy_csv_of_the_run() {
    let email = render(&report(), &options()).expect("render");
    let attachment = email.attachment.expect("attachment");
    assert_eq!(attachment.filename, "flexiti-discrepancies-2026-11-23.csv");
    let csv = String::from_utf8(attachment.bytes).expect("utf-8");
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 6);
    assert!(
        lines[0].starts_with(
            "business_date,category,reference,kind,flexiti_amount,ledger_amount,delta,"
        )
    );
    assert!(lines[1].starts_with(
        "2026-11-23,amount_mismatch,ORD-20261123-000123,sale,1299.99,1287.99,-12.00,"
    ));
    assert!(
        lines[1].contains(",open,42,42,"),
        "new findings are first seen by this run"
    );
    assert!(
        lines[2].contains(",open,,42,"),
        "a still-open finding was first seen earlier"
    );
}

#[test]
fn a_failed_run_alert_names_the_error_and_how_to_rerun() {
    let range = DayRange::new(sample_day(), day(24));
    let email = render_failure(
        range,
        "ledger.csv: header has no 'amount' column <b>",
        "xref-9",
        &options(),
    );
    assert_eq!(
        email.subject,
        "[flexiti-recon] FAILED 2026-11-23..2026-11-24: run failed"
    );
    assert!(
        email
            .text
            .contains("flexiti-recon run --from 2026-11-23 --to 2026-11-24")
    );
    assert!(email.html.contains("no &#39;amount&#39; column &lt;b&gt;"));
    assert!(email.text.contains("xref-9"));
    assert!(email.attachment.is_none());
}

#[test]
fn the_policy_decides_and_a_failed_run_always_alerts() {
    let mut quiet = report();
    quiet.status = RunStatus::Succeeded;
    quiet.discrepancies.clear();
    quiet.failed_calls.clear();
    quiet.rejects.clear();
    quiet.incomplete_days.clear();
    quiet.changes = ChangeSummary::default();
    assert!(should_send(EmailPolicy::Always, &quiet));
    assert!(!should_send(EmailPolicy::OnlyWhenFindings, &quiet));
    assert!(!should_send(EmailPolicy::Never, &quiet));
    assert!(should_send(EmailPolicy::OnlyWhenFindings, &report()));
    let mut failed = quiet;
    failed.status = RunStatus::Failed;
    assert!(should_send(EmailPolicy::Never, &failed));
}

fn settings() -> EmailSettings {
    EmailSettings {
        from: "Recon <recon@maple.example>".into(),
        to: vec![
            "finance@maple.example".into(),
            "controller@maple.example".into(),
        ],
        ..EmailSettings::default()
    }
}

/// Every leaf part of a message: (mime type, attachment file name, decoded body bytes).
fn leaves(mail: &ParsedMail<'_>, out: &mut Vec<(String, Option<String>, Vec<u8>)>) {
    if mail.subparts.is_empty() {
        let filename = mail
            .get_content_disposition()
            .params
            .get("filename")
            .cloned();
        let body = mail.get_body_raw().expect("decodable part");
        out.push((mail.ctype.mimetype.clone(), filename, body));
    }
    for part in &mail.subparts {
        leaves(part, out);
    }
}

fn assert_complete_message(raw: &[u8], email: &RenderedEmail) {
    let mail = mailparse::parse_mail(raw).expect("parseable message");
    assert_eq!(
        mail.headers.get_first_value("Subject").as_deref(),
        Some(email.subject.as_str())
    );
    assert!(
        mail.headers
            .get_first_value("To")
            .expect("to")
            .contains("controller@maple.example")
    );
    assert_eq!(mail.ctype.mimetype, "multipart/mixed");
    let mut parts = Vec::new();
    leaves(&mail, &mut parts);
    let body = |mime: &str| {
        let part = parts
            .iter()
            .find(|p| p.0 == mime && p.1.is_none())
            .unwrap_or_else(|| panic!("no {mime} part"));
        String::from_utf8(part.2.clone()).expect("utf-8")
    };
    assert!(body("text/plain").contains("Totals per day and store"));
    assert!(body("text/plain").contains("1,287.99"));
    assert!(body("text/html").contains("<table>"));
    assert!(body("text/html").contains("&lt;script&gt;"));
    let attachment = email.attachment.as_ref().expect("attachment");
    let csv = parts
        .iter()
        .find(|p| p.1.as_deref() == Some(attachment.filename.as_str()))
        .expect("csv attachment");
    assert_eq!(csv.0, "text/csv");
    assert_eq!(csv.2, attachment.bytes);
}

#[tokio::test]
async fn the_file_transport_writes_one_parseable_eml_per_message() {
    let dir = tempfile::tempdir().expect("tempdir");
    let settings = EmailSettings {
        file_dir: dir.path().join("outbox"),
        ..settings()
    };
    let mailer = Mailer::from_settings(&settings).expect("mailer");
    let email = render(&report(), &options()).expect("render");
    let SentTo::File(path) = mailer.send(&email, &settings).await.expect("sent") else {
        panic!("expected a file");
    };
    assert_eq!(path.extension().and_then(|e| e.to_str()), Some("eml"));
    assert_eq!(
        std::fs::read_dir(dir.path().join("outbox"))
            .expect("outbox")
            .count(),
        1
    );
    assert_complete_message(&std::fs::read(&path).expect("eml"), &email);
}

/// What the loopback SMTP server received in one transaction.
struct Received {
    mail_from: String,
    rcpt_to: Vec<String>,
    data: Vec<u8>,
}

/// A minimal but real SMTP server (RFC 5321 subset: EHLO, MAIL, RCPT, DATA, RSET, NOOP, QUIT)
/// that accepts one connection and reports its first message.
async fn smtp_server() -> (u16, oneshot::Receiver<Received>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let (tx, rx) = oneshot::channel();
    tokio::spawn(async move {
        let (socket, _) = listener.accept().await.expect("accept");
        let (read, mut write) = socket.into_split();
        let mut lines = BufReader::new(read);
        write
            .write_all(b"220 loopback ESMTP test\r\n")
            .await
            .expect("greet");
        let mut tx = Some(tx);
        let mut current = Received {
            mail_from: String::new(),
            rcpt_to: Vec::new(),
            data: Vec::new(),
        };
        let mut line = String::new();
        loop {
            line.clear();
            if lines.read_line(&mut line).await.expect("read") == 0 {
                break;
            }
            let command = line.trim_end().to_string();
            let verb = command
                .split([' ', ':'])
                .next()
                .unwrap_or("")
                .to_ascii_uppercase();
            let reply: &[u8] = match verb.as_str() {
                "EHLO" | "HELO" => b"250-loopback\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n",
                "MAIL" => {
                    current.mail_from = command.clone();
                    b"250 OK\r\n"
                }
                "RCPT" => {
                    current.rcpt_to.push(command.clone());
                    b"250 OK\r\n"
                }
                "DATA" => {
                    write
                        .write_all(b"354 end with <CRLF>.<CRLF>\r\n")
                        .await
                        .expect("354");
                    loop {
                        let mut data_line = String::new();
                        lines.read_line(&mut data_line).await.expect("data");
                        if data_line == ".\r\n" || data_line.is_empty() {
                            break;
                        }
                        let unstuffed = data_line.strip_prefix('.').unwrap_or(&data_line);
                        current.data.extend_from_slice(unstuffed.as_bytes());
                    }
                    if let Some(tx) = tx.take() {
                        let done = std::mem::replace(
                            &mut current,
                            Received {
                                mail_from: String::new(),
                                rcpt_to: Vec::new(),
                                data: Vec::new(),
                            },
                        );
                        let _ = tx.send(done);
                    }
                    b"250 OK queued\r\n"
                }
                "QUIT" => {
                    write.write_all(b"221 bye\r\n").await.expect("221");
                    break;
                }
                "RSET" | "NOOP" => b"250 OK\r\n",
                _ => b"502 command not implemented\r\n",
            };
            write.write_all(reply).await.expect("reply");
        }
    });
    (port, rx)
}

fn smtp_settings(port: u16) -> EmailSettings {
    EmailSettings {
        transport: TransportKind::Smtp,
        smtp_host: "127.0.0.1".into(),
        smtp_port: Some(port),
        tls: TlsMode::None,
        timeout_secs: 5,
        ..settings()
    }
}

#[tokio::test]
async fn smtp_delivers_both_parts_and_the_attachment_to_a_real_server() {
    let (port, received) = smtp_server().await;
    let settings = smtp_settings(port);
    let mailer = Mailer::from_settings(&settings).expect("mailer");
    let email = render(&report(), &options()).expect("render");
    let sent = mailer.send(&email, &settings).await.expect("sent");
    assert_eq!(
        sent,
        SentTo::Smtp {
            server: format!("127.0.0.1:{port}"),
            recipients: 2
        }
    );
    let message = tokio::time::timeout(std::time::Duration::from_secs(5), received)
        .await
        .expect("in time")
        .expect("a message");
    assert!(
        message.mail_from.contains("<recon@maple.example>"),
        "{}",
        message.mail_from
    );
    assert_eq!(message.rcpt_to.len(), 2);
    assert_complete_message(&message.data, &email);
}

#[tokio::test]
async fn a_refused_smtp_connection_is_an_error_naming_host_and_port() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    drop(listener);
    let settings = smtp_settings(port);
    let mailer = Mailer::from_settings(&settings).expect("mailer");
    let email = render(&report(), &options()).expect("render");
    let err = mailer
        .send(&email, &settings)
        .await
        .expect_err("nothing listens");
    assert!(matches!(err, SendError::Smtp { .. }));
    assert!(
        err.to_string()
            .starts_with(&format!("smtp 127.0.0.1:{port}: ")),
        "{err}"
    );
}

#[tokio::test]
async fn the_smtp_probe_holds_a_session_without_sending_and_names_a_dead_server() {
    let (port, received) = smtp_server().await;
    let mailer = Mailer::from_settings(&smtp_settings(port)).expect("mailer");
    let what = mailer.probe().await.expect("the server answers");
    assert_eq!(
        what,
        format!("smtp 127.0.0.1:{port} answered EHLO and NOOP")
    );
    drop(mailer);
    // No message was sent: the server never completed a transaction.
    assert!(
        tokio::time::timeout(std::time::Duration::from_millis(200), received)
            .await
            .map_or(true, |r| r.is_err())
    );

    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let dead = listener.local_addr().expect("addr").port();
    drop(listener);
    let mailer = Mailer::from_settings(&smtp_settings(dead)).expect("mailer");
    let err = mailer.probe().await.expect_err("nothing listens");
    assert!(
        err.to_string()
            .starts_with(&format!("smtp 127.0.0.1:{dead}: ")),
        "{err}"
    );
}

#[test]
fn plain_smtp_is_refused_to_a_host_that_is_not_loopback() {
    let mut settings = smtp_settings(25);
    settings.smtp_host = "mail.maple.example".into();
    let err = Mailer::from_settings(&settings).expect_err("plain to a remote host");
    assert!(matches!(err, EmailConfigError::PlainToRemote(_)));
    assert!(err.to_string().contains("mail.maple.example"), "{err}");
    settings.smtp_host = "localhost".into();
    assert!(Mailer::from_settings(&settings).is_ok());
    settings.smtp_host = "mail.maple.example".into();
    settings.tls = TlsMode::Starttls;
    settings.smtp_port = None;
    assert!(Mailer::from_settings(&settings).is_ok());
    assert_eq!(settings.port(), 587);
}

#[test]
fn settings_come_from_the_config_file_with_defaults_and_a_password_only_from_outside() {
    let settings: EmailSettings = toml::from_str(
        r#"
        to = ["finance@maple.example"]
        policy = "only_when_findings"
        transport = "smtp"
        smtp_host = "smtp.maple.example"
        tls = "implicit"
        username = "recon"
        "#,
    )
    .expect("settings");
    assert_eq!(settings.policy, EmailPolicy::OnlyWhenFindings);
    assert_eq!(settings.port(), 465);
    assert_eq!(settings.timeout_secs, 30);
    assert!(matches!(
        settings.validate(),
        Err(EmailConfigError::MissingPassword)
    ));
    let with_password = EmailSettings {
        password: Some(SecretString::from("s3cret")),
        ..settings
    };
    assert!(with_password.validate().is_ok());
    assert!(!format!("{with_password:?}").contains("s3cret"));
    assert!(
        toml::from_str::<EmailSettings>("password = \"x\"").is_err(),
        "no password in the file"
    );
    let bad = EmailSettings {
        to: vec!["not an address".into()],
        ..EmailSettings::default()
    };
    assert!(
        bad.validate()
            .expect_err("bad")
            .to_string()
            .starts_with("email.to: 'not an address'")
    );
}

// ---- a real SMTP server with TLS: Python's aiosmtpd (installed by .ci/run) ----

/// aiosmtpd on a loopback port, with a certificate for `localhost` made for the test, delivering
/// into a maildir. Killed when dropped.
struct RealSmtp {
    _child: tokio::process::Child,
    port: u16,
    ca_file: std::path::PathBuf,
    maildir: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

async fn real_smtp(implicit_tls: bool) -> RealSmtp {
    let dir = tempfile::tempdir().expect("tempdir");
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).expect("cert");
    let (cert_file, key_file) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert_file, cert.cert.pem()).expect("cert file");
    std::fs::write(&key_file, cert.key_pair.serialize_pem()).expect("key file");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let maildir = dir.path().join("maildir");
    let (cert_flag, key_flag) = if implicit_tls {
        ("--smtpscert", "--smtpskey")
    } else {
        ("--tlscert", "--tlskey")
    };
    let child = tokio::process::Command::new("python3")
        .args(["-m", "aiosmtpd", "-n", "-l", &format!("127.0.0.1:{port}")])
        .args(["-c", "aiosmtpd.handlers.Mailbox"])
        .arg(cert_flag)
        .arg(&cert_file)
        .arg(key_flag)
        .arg(&key_file)
        .arg(&maildir)
        .kill_on_drop(true)
        .spawn()
        .expect("python3 runs (the SMTP tests need aiosmtpd: pip install aiosmtpd)");
    for _ in 0..200 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return RealSmtp {
                _child: child,
                port,
                ca_file: cert_file,
                maildir,
                _dir: dir,
            };
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("aiosmtpd did not listen on {port}: is it installed? (pip install aiosmtpd)");
}

fn tls_settings(server: &RealSmtp, tls: TlsMode) -> EmailSettings {
    EmailSettings {
        transport: TransportKind::Smtp,
        smtp_host: "localhost".into(),
        smtp_port: Some(server.port),
        tls,
        ca_file: Some(server.ca_file.clone()),
        timeout_secs: 10,
        ..settings()
    }
}

/// The messages the server delivered, parsed back.
fn delivered(server: &RealSmtp) -> Vec<Vec<u8>> {
    let new = server.maildir.join("new");
    let mut files: Vec<_> = std::fs::read_dir(&new)
        .map(|entries| entries.filter_map(Result::ok).map(|e| e.path()).collect())
        .unwrap_or_default();
    files.sort();
    files
        .iter()
        .map(|f| std::fs::read(f).expect("message"))
        .collect()
}

#[tokio::test]
async fn starttls_and_implicit_tls_deliver_to_a_real_server_trusting_a_private_ca() {
    for (implicit, tls) in [(false, TlsMode::Starttls), (true, TlsMode::Implicit)] {
        let server = real_smtp(implicit).await;
        let settings = tls_settings(&server, tls);
        let mailer = Mailer::from_settings(&settings).expect("mailer");
        let probed = mailer.probe().await.expect("probe over TLS");
        assert!(probed.contains("answered EHLO and NOOP"), "{probed}");
        let email = render(&report(), &options()).expect("render");
        let sent = mailer.send(&email, &settings).await.expect("sent over TLS");
        assert!(
            matches!(sent, SentTo::Smtp { recipients: 2, .. }),
            "{sent:?}"
        );

        let messages = delivered(&server);
        assert_eq!(messages.len(), 1, "{tls:?}");
        let mail = mailparse::parse_mail(&messages[0]).expect("parse");
        assert_eq!(
            mail.headers.get_first_value("Subject").as_deref(),
            Some(email.subject.as_str())
        );
        let mut parts = Vec::new();
        leaves(&mail, &mut parts);
        let attachment = email.attachment.as_ref().map(|a| a.filename.as_str());
        assert!(attachment.is_some());
        assert!(
            parts
                .iter()
                .any(|(_, name, _)| name.as_deref() == attachment),
            "{tls:?}: {:?}",
            parts.iter().map(|p| &p.1).collect::<Vec<_>>()
        );
    }
}

#[tokio::test]
async fn a_server_certificate_nobody_vouches_for_is_refused() {
    let server = real_smtp(false).await;
    let settings = EmailSettings {
        ca_file: None,
        ..tls_settings(&server, TlsMode::Starttls)
    };
    let mailer = Mailer::from_settings(&settings).expect("mailer");
    let email = render(&report(), &options()).expect("render");
    let err = mailer
        .send(&email, &settings)
        .await
        .expect_err("the certificate is not trusted");
    assert!(
        err.to_string()
            .starts_with(&format!("smtp localhost:{}: ", server.port)),
        "{err}"
    );
    assert!(delivered(&server).is_empty());

    let missing = EmailSettings {
        ca_file: Some("/nonexistent/ca.pem".into()),
        ..settings
    };
    let err = Mailer::from_settings(&missing).expect_err("no such file");
    assert!(
        err.to_string()
            .starts_with("email.ca_file /nonexistent/ca.pem: "),
        "{err}"
    );
}

#[test]
fn the_ca_file_is_read_relative_to_the_config_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("recon.toml");
    std::fs::write(
        &config,
        "merchant = \"M\"\n[email]\nto = [\"finance@maple.example\"]\ntransport = \"smtp\"\n\
         smtp_host = \"relay.maple.internal\"\nca_file = \"certs/relay-ca.pem\"\n",
    )
    .expect("config");
    let loaded = flexiti_recon::config::Config::load(&config).expect("loads");
    assert_eq!(
        loaded.email.ca_file.as_deref(),
        Some(dir.path().join("certs/relay-ca.pem").as_path())
    );
}
