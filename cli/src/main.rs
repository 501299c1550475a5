//! `trailguard`: try events against a policy offline, check policies, and print what a
//! function needs from its template (IAM actions, EventBridge patterns).
//!
//! The commands and their flags are declared once, with clap (`Cli`): `--help` on each,
//! `--version`, suggestions, `completions SHELL` and `man` come from the declaration.

mod approve;
mod backtest;
mod remote;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::io::Write;
use std::process::ExitCode;

use serde_json::{json, Value};
use trailguard_backtest::scan::Step;
use trailguard_backtest::Sift;
use trailguard_rules::ask::{self, Ask};
use trailguard_rules::facts::World;
use trailguard_rules::{
    decide, decide_guard, Decider, Decision, Event, Facts, Guard, Policy, Report,
};

use clap::{CommandFactory, Parser, Subcommand};

/// trailguard: try events against a policy offline, check policies, print what a function
/// needs from its template, replay CloudTrail archives, and talk to a deployed stack.
#[derive(Parser)]
#[command(
    name = "trailguard",
    version = env!("TRAILGUARD_VERSION"),
    about,
    arg_required_else_help = true,
    disable_help_subcommand = false
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Print one JSON decision per event.
    ///
    /// FILEs are EventBridge envelopes, raw CloudTrail records, or CloudTrail log files
    /// {"Records": [...]}, plain or .gz; '-' reads standard input. Facts the events lack are
    /// taken as absent, or read from --world (the account's security groups, key owners, ...
    /// as in events/meta/world.json). Exit status 1 when a file or record could not be read
    /// (each is named on standard error; the others are still decided).
    Decide {
        /// The policy to decide with (default: the default policy).
        #[arg(long, value_name = "FILE")]
        policy: Option<String>,
        /// Decide as this function alone (default: every guard, merged).
        #[arg(long, value_name = "FUNCTION")]
        guard: Option<String>,
        /// Look facts up in this account description instead of assuming them absent.
        #[arg(long, value_name = "FILE")]
        world: Option<String>,
        /// Print only the decisions that act (notify or remediate). Records no rule delivers
        /// are skipped without being parsed whole, as the backtest does: a day of logs is
        /// decided at about the backtest's speed.
        #[arg(long)]
        only_acted: bool,
        /// Events or CloudTrail log files ('-': standard input).
        #[arg(required = true, value_name = "FILE")]
        files: Vec<String>,
    },
    /// Validate a policy, or print the default one.
    Policy {
        #[command(subcommand)]
        command: PolicyCommand,
    },
    /// The IAM actions a function needs (as template.yaml grants them).
    IamActions {
        /// What the member role grants (member.yaml): every function's actions in the
        /// account an event is about.
        #[arg(long, conflicts_with = "function")]
        member: bool,
        /// What `trailguard undo` may call in the account it undoes in, for any remediation
        /// (member.yaml's undo role grants these).
        #[arg(long, conflicts_with_all = ["function", "member"])]
        undo: bool,
        #[arg(required_unless_present_any = ["member", "undo"], value_name = "FUNCTION")]
        function: Option<String>,
    },
    /// What a function's reconciliation sweep lists (template.yaml schedules it).
    Sweeps {
        #[arg(value_name = "FUNCTION")]
        function: String,
    },
    /// The EventBridge rules a function needs (as template.yaml has them).
    Patterns {
        #[arg(value_name = "FUNCTION")]
        function: String,
    },
    /// Ask disable-compromised-key to contain one key.
    ///
    /// Puts the manual trigger on the stack's manual-trigger bus (its ManualTriggerBusName
    /// output, or TRAILGUARD_MANUAL_BUS). Only the principals in the stack's
    /// ManualTriggerPrincipals may put it there.
    DisableKey {
        /// The key (AKIA... or ASIA...); it must be in this account.
        #[arg(long, value_name = "AKIA...")]
        access_key_id: Option<String>,
        /// Why: in the notification and the audit trail (required).
        #[arg(long, allow_hyphen_values = true)]
        reason: Option<String>,
        /// The manual-trigger bus (default: TRAILGUARD_MANUAL_BUS).
        #[arg(long, value_name = "NAME")]
        bus: Option<String>,
        /// The key's user, when the caller cannot look it up.
        #[arg(long, value_name = "NAME")]
        user: Option<String>,
    },
    /// Approve a plan a function keeps waiting (mode approve): it acts.
    ///
    /// ID is the plan's id, as the notice names it (16 hex digits). The plan is read from the
    /// ledger first (it must still wait: not rejected, not expired); then an "Approve Plan"
    /// event naming it goes on the stack's manual-trigger bus (its ManualTriggerBusName
    /// output, or TRAILGUARD_MANUAL_BUS), which only ManualTriggerPrincipals may put on. The
    /// function that kept the plan decides its event again as the resources are now, does
    /// only actions the plan holds, and tells the topic. Prints the plan (JSON).
    Approve {
        #[arg(value_name = "ID")]
        id: String,
        /// The manual-trigger bus (default: TRAILGUARD_MANUAL_BUS).
        #[arg(long, value_name = "NAME")]
        bus: Option<String>,
        /// The ledger table (the stack's LedgerTableName output, or TRAILGUARD_LEDGER_TABLE).
        #[arg(long, value_name = "NAME")]
        table: Option<String>,
    },
    /// Reject a plan a function keeps waiting (mode approve): it is never carried out.
    ///
    /// The plan is marked rejected in the ledger, naming the caller; an approval after that
    /// does nothing and says so. Prints the plan (JSON).
    Reject {
        #[arg(value_name = "ID")]
        id: String,
        /// The ledger table (the stack's LedgerTableName output, or TRAILGUARD_LEDGER_TABLE).
        #[arg(long, value_name = "NAME")]
        table: Option<String>,
    },
    /// Undo exactly what one remediation did, last action first.
    ///
    /// The remediation is named by its report (--report: the function's report as it logged
    /// or returned it, or its "Remediation Performed" event) or by its event (--event-id:
    /// the reports the ledger kept of it, for the policy's undo_retention_days). Every action
    /// done is checked first against its resource as it is now: when one cannot be undone
    /// exactly, or was changed since (a rule already put back, a key rotated out), nothing is
    /// run and the reason is printed (exit status 2). Runs with the usual credentials, which
    /// must be of the account the remediation was done in; the region is the report's.
    /// Prints one JSON report of the undo; records it in the ledger and, with --topic, tells
    /// the notification topic.
    Undo {
        /// The report (a file; '-': standard input).
        #[arg(
            long,
            value_name = "FILE",
            required_unless_present = "event_id",
            conflicts_with = "event_id"
        )]
        report: Option<String>,
        /// The event whose remediation to undo (the report's `event_id`): its reports are
        /// read from the ledger.
        #[arg(long, value_name = "ID")]
        event_id: Option<String>,
        /// With --event-id: the function whose remediation to undo, when more than one
        /// acted on the event (the report's `function`).
        #[arg(long, value_name = "NAME", conflicts_with = "report")]
        function: Option<String>,
        /// Check and print the calls; change nothing.
        #[arg(long)]
        dry_run: bool,
        /// The ledger table (the stack's LedgerTableName output, or TRAILGUARD_LEDGER_TABLE):
        /// the event's claims are marked undone there, so a redelivery of it does not act
        /// again.
        #[arg(long, value_name = "NAME")]
        table: Option<String>,
        /// The ledger's region, when it is not the usual configuration's (the report's
        /// actions may have been done in another).
        #[arg(long, value_name = "REGION")]
        ledger_region: Option<String>,
        /// Run the reversals the report holds without checking them against the ledger (a
        /// deployment without one, or a ledger these credentials cannot read): only for a
        /// report whose source you trust.
        #[arg(long, conflicts_with_all = ["table", "event_id"])]
        unverified: bool,
        /// The notification topic (the stack's NotificationTopicArn output, or
        /// TRAILGUARD_TOPIC_ARN): told who undid what.
        #[arg(long, value_name = "ARN")]
        topic: Option<String>,
        /// A central deployment: the role to undo as in the member account the remediation
        /// was done in (member.yaml's undo role, `<MemberRoleName>-undo`, e.g.
        /// `trailguard-member-undo`), assumed with the usual credentials, which stay the home
        /// account's (the ledger's and the topic's). Needs the ledger: the report is checked
        /// there before the role is assumed.
        #[arg(long, value_name = "NAME", conflicts_with = "unverified")]
        member_role: Option<String>,
    },
    /// What trailguard would have done over an archive of CloudTrail logs.
    ///
    /// SOURCE is a log file, a directory (read recursively) or s3://bucket/prefix (the usual
    /// credentials, region and AWS_ENDPOINT_URL). Objects outside --since/--until/--account/
    /// --region by their key (AWSLogs/[o-…/]ACCOUNT/CloudTrail/REGION/YYYY/MM/DD/) are never
    /// read. Prints a summary (per function and decision, top reasons, whose changes would be
    /// reverted, by day); --decisions writes one JSON line per notify or remediate decision
    /// (decide's schema). Exit status 1 when an object or record could not be read (they are
    /// named). With --merge: merge the partial summaries a distributed backtest wrote
    /// (template.yaml, Backtest*).
    Backtest(backtest::Args),
    /// Close a guard's blast-radius breaker.
    Breaker {
        #[command(subcommand)]
        command: BreakerCommand,
    },
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions {
        #[arg(value_name = "SHELL")]
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff): `trailguard man | man -l -`.
    Man,
}

#[derive(Subcommand)]
enum PolicyCommand {
    /// Validate a policy; prints it with defaults filled in.
    Check {
        #[arg(value_name = "FILE")]
        file: String,
    },
    /// Print the default policy.
    Default,
}

#[derive(Subcommand)]
enum BreakerCommand {
    /// Close a guard's breaker in one account (default: the caller's own) in the ledger
    /// table (the stack's LedgerTableName output, or TRAILGUARD_LEDGER_TABLE): it acts there
    /// again.
    Reset {
        /// The guard (its policy name, as in max_actions_per_hour).
        #[arg(long, value_name = "NAME")]
        guard: Option<String>,
        #[arg(long, value_name = "ID")]
        account: Option<String>,
        #[arg(long, value_name = "NAME")]
        table: Option<String>,
    },
}

fn main() -> ExitCode {
    // Usage errors (unknown subcommand or flag, a missing value) exit 2 with clap's
    // message and its suggestion; --help and --version exit 0.
    let cli = Cli::parse();
    match run(cli.command) {
        Ok(code) => code,
        Err(msg) => {
            eprintln!("trailguard: {msg}");
            ExitCode::from(2)
        }
    }
}

/// Write the command's output; a closed pipe (`| head`) ends it quietly.
fn out(text: impl AsRef<[u8]>) -> Result<ExitCode, String> {
    let mut o = std::io::stdout().lock();
    match o.write_all(text.as_ref()).and_then(|_| o.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(format!("writing: {e}")),
        _ => Ok(ExitCode::SUCCESS),
    }
}

fn print_json(v: &Value) -> Result<ExitCode, String> {
    out(format!("{v}\n"))
}

fn run(command: Command) -> Result<ExitCode, String> {
    match command {
        Command::Decide {
            policy,
            guard: only,
            world,
            only_acted,
            files,
        } => {
            let policy = match policy {
                Some(f) => load_policy(&f)?,
                None => Policy::default(),
            };
            let only = only.map(|g| decider(&g)).transpose()?;
            let world = world.map(|w| load_world(&w)).transpose()?;
            // The backtest's prefilter, for --only-acted: which records a rule could deliver.
            let prefilter = only_acted
                .then(|| {
                    trailguard_backtest::Engine::new(
                        policy.clone(),
                        trailguard_backtest::Filters {
                            functions: only
                                .map(|d| d.guard().function_name().to_string())
                                .into_iter()
                                .collect(),
                            ..Default::default()
                        },
                    )
                })
                .transpose()?;
            decide_cmd(&policy, only, world.as_ref(), prefilter.as_ref(), &files)
        }
        Command::Policy {
            command: PolicyCommand::Check { file },
        } => {
            let policy = load_policy(&file)?;
            eprintln!("{file}: policy is valid");
            out(format!("{}\n", policy.to_json_pretty()))
        }
        Command::Policy {
            command: PolicyCommand::Default,
        } => out(format!("{}\n", Policy::default().to_json_pretty())),
        Command::IamActions { member: true, .. } => {
            let all: std::collections::BTreeSet<&str> =
                Guard::all().flat_map(|g| g.member_iam_actions()).collect();
            print_json(&json!(all))
        }
        Command::IamActions { undo: true, .. } => {
            print_json(&json!(trailguard_rules::undo::every_op()))
        }
        Command::IamActions { function, .. } => match function.as_deref() {
            // The backtest function is not a guard: it reads archives and writes summaries.
            Some("backtest") => print_json(&json!(trailguard_backtest::iam_actions())),
            // Not a guard either: it imports the ledger's remediations into Security Hub.
            Some("publish-findings") => print_json(&json!(trailguard_aws::publish::iam_actions())),
            Some(f) => print_json(&json!(guard(f)?.iam_actions())),
            None => Err("iam-actions needs a FUNCTION, --member or --undo".into()),
        },
        Command::Sweeps { function } | Command::Patterns { function }
            if function == "backtest" || function == "publish-findings" =>
        {
            print_json(&json!([]))
        }
        Command::Sweeps { function } => print_json(&json!(guard(&function)?.spec().sweeps)),
        Command::Patterns { function } => out(format!(
            "{}\n",
            serde_json::to_string_pretty(&guard(&function)?.patterns()).unwrap_or_default()
        )),
        Command::DisableKey {
            access_key_id,
            reason,
            bus,
            user,
        } => remote::disable_key(&remote::given(&[
            ("--access-key-id", access_key_id),
            ("--reason", reason),
            ("--bus", bus),
            ("--user", user),
        ])),
        Command::Approve { id, bus, table } => approve::approve(&remote::given(&[
            ("ID", Some(id)),
            ("--bus", bus),
            ("--table", table),
        ])),
        Command::Reject { id, table } => {
            approve::reject(&remote::given(&[("ID", Some(id)), ("--table", table)]))
        }
        Command::Undo {
            report,
            event_id,
            function,
            dry_run,
            table,
            ledger_region,
            unverified,
            topic,
            member_role,
        } => remote::undo(
            match (report, event_id) {
                (Some(file), _) => remote::Named::Report(file),
                (None, id) => remote::Named::Event(id.unwrap_or_default(), function),
            },
            dry_run,
            table.or_else(|| remote::env("TRAILGUARD_LEDGER_TABLE").filter(|_| !unverified)),
            ledger_region,
            unverified,
            topic.or_else(|| remote::env("TRAILGUARD_TOPIC_ARN")),
            member_role,
        ),
        Command::Backtest(args) => backtest::cmd(args),
        Command::Breaker {
            command:
                BreakerCommand::Reset {
                    guard,
                    account,
                    table,
                },
        } => remote::breaker_reset(&remote::given(&[
            ("--guard", guard),
            ("--account", account),
            ("--table", table),
        ])),
        Command::Completions { shell } => {
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "trailguard", &mut script);
            out(script)
        }
        Command::Man => {
            let mut page = Vec::new();
            clap_mangen::Man::new(Cli::command())
                .render(&mut page)
                .map_err(|e| format!("the manual page: {e}"))?;
            out(page)
        }
    }
}

pub(crate) fn guard(function: &str) -> Result<Guard, String> {
    Guard::from_function_name(function).ok_or_else(|| {
        format!(
            "unknown function `{function}` (one of: {})",
            Guard::function_names()
        )
    })
}

/// A function's guard with its decisions (`decide --function`).
fn decider(function: &str) -> Result<&'static Decider, String> {
    let g = guard(function)?;
    Decider::of(g).ok_or_else(|| format!("the guard of `{function}` declares no decisions"))
}

pub(crate) fn load_policy(file: &str) -> Result<Policy, String> {
    let text = std::fs::read_to_string(file).map_err(|e| format!("{file}: {e}"))?;
    Policy::from_json(&text).map_err(|e| format!("{file}: {e}"))
}

fn load_world(file: &str) -> Result<World, String> {
    let text = std::fs::read_to_string(file).map_err(|e| format!("{file}: {e}"))?;
    serde_json::from_str(&text).map_err(|e| format!("{file}: not a world description: {e}"))
}

/// Decide with the facts a world gives, or offline (absent facts assumed absent, listed).
/// `among`: the only guards that could handle the event (the prefilter's candidates).
fn decide_one(
    event: &Event,
    policy: &Policy,
    guard: Option<&'static Decider>,
    world: Option<&World>,
    among: Option<&[Guard]>,
) -> Decision {
    let decide = |facts: &Facts| match (guard, among) {
        (Some(d), _) => decide_guard(d, event, policy, facts),
        // In Guard::all's order: the first that applies is the most specific.
        (None, Some(among)) => trailguard_rules::decide_among(
            Decider::all().filter(|d| among.contains(&d.guard())),
            event,
            policy,
            facts,
        ),
        (None, None) => decide(event, policy, facts),
    };
    let (ask, result) = match world {
        Some(w) => {
            let mut ask = Ask::new(Facts::default());
            let result = ask::settle_in(w, &mut ask, decide);
            (ask, result)
        }
        // Offline facts answer every request: one verdict, nothing to fetch.
        None => {
            let mut ask = Ask::new(Facts::offline()).rounds(1);
            let result = ask::settle(&mut ask, decide, |_, _| {});
            (ask, result)
        }
    };
    match result {
        Ok(d) => trailguard_rules::with_assumptions(d, ask.facts()),
        Err(stuck) if world.is_none() => {
            Decision::ignore(format!("unresolved facts offline: {:?}", stuck.requests))
        }
        Err(_) => Decision::ignore("the rules kept asking for facts"),
    }
}

fn decide_cmd(
    policy: &Policy,
    guard_filter: Option<&'static Decider>,
    world: Option<&World>,
    only_acted: Option<&trailguard_backtest::Engine>,
    files: &[String],
) -> Result<ExitCode, String> {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let mut failed = false;
    let mut closed = false;
    for file in files.iter().map(String::as_str) {
        if closed {
            break;
        }
        // The backtest's reader: one record at a time, whatever the file's size.
        let input: Box<dyn std::io::BufRead> = if file == "-" {
            Box::new(std::io::BufReader::new(std::io::stdin()))
        } else {
            match std::fs::File::open(file) {
                Ok(f) => Box::new(std::io::BufReader::with_capacity(256 * 1024, f)),
                Err(e) => {
                    failed = true;
                    eprintln!("trailguard: {file}: {e}");
                    continue;
                }
            }
        };
        // The record's index in its file, for error messages (skipped records count too).
        let i = std::cell::Cell::new(0usize);
        // One record's bytes: decided, printed (unless --only-acted and it does not act).
        let mut one = |bytes: &[u8], among: Option<&[Guard]>| {
            if closed {
                return;
            }
            let event = serde_json::from_slice::<Value>(bytes)
                .map_err(|e| format!("not valid JSON: {e}"))
                .and_then(|v| Event::from_value(v).map_err(|e| e.to_string()));
            match event {
                Ok(event) => {
                    let d = decide_one(&event, policy, guard_filter, world, among);
                    if only_acted.is_none() || d.kind != trailguard_rules::Kind::Ignore {
                        let mut report = Report::new(&d, Some(&event));
                        report.source_file = Some(file.to_string());
                        if let Err(e) = writeln!(out, "{}", report.to_value()) {
                            // A closed pipe (`| head`): nobody reads the rest.
                            if e.kind() == std::io::ErrorKind::BrokenPipe {
                                closed = true;
                            }
                        }
                    }
                }
                Err(e) => {
                    failed = true;
                    eprintln!("trailguard: {file} (record {}): {e}", i.get());
                }
            }
            i.set(i.get() + 1);
        };
        let result = trailguard_backtest::gunzip::decompressing(input)
            .map_err(|e| format!("not valid gzip: {e}"))
            .and_then(|reader| {
                let one = std::cell::RefCell::new(&mut one);
                reader
                    .for_each_element(
                        // --only-acted: a log file's records are sifted in the read buffer, as
                        // the backtest reads them; those no rule delivers are skipped unread.
                        |rest, eof| match only_acted.map(|engine| engine.sift(rest, eof)) {
                            Some(Sift::Skip(n)) => {
                                i.set(i.get() + 1);
                                Step::Used(n)
                            }
                            Some(Sift::Decide(n, among)) => {
                                (one.borrow_mut())(&rest[..n], Some(&among));
                                Step::Used(n)
                            }
                            Some(Sift::NeedMore) => Step::NeedMore,
                            Some(Sift::Scan) | None => Step::Scan,
                        },
                        |bytes| match only_acted.map(|engine| engine.sift_scanned(bytes)) {
                            Some(Some(among)) if among.is_empty() => i.set(i.get() + 1),
                            Some(Some(among)) => (one.borrow_mut())(bytes, Some(&among)),
                            _ => (one.borrow_mut())(bytes, None),
                        },
                    )
                    .map_err(|e| e.to_string())
            });
        if let Err(e) = result {
            failed = true;
            eprintln!("trailguard: {file}: {e}");
        }
    }
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
