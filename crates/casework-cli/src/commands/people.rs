//! People and tokens: `agent add`, `agent list`, `agent password` and `agent notifications`,
//! `token create`, `list` and `revoke`.

use std::io::Read;

use casework_core::model::{Person, Role};
use serde_json::json;

use crate::app::Failure;
use crate::cli::*;
use crate::output::{self, out, outln, print_json};

use super::{Ctx, address};

/// A new password: from the terminal, asked twice without echo; otherwise standard
/// input's first line (without its line ending).
fn read_password() -> Result<String, Failure> {
    use std::io::IsTerminal;
    if std::io::stdin().is_terminal() {
        let read = |prompt: &str| {
            rpassword::prompt_password(prompt)
                .map_err(|e| Failure::usage(format!("cannot read the password: {e}")))
        };
        let first = read("New password: ")?;
        if read("Again: ")? != first {
            return Err(Failure::usage(
                "the two passwords differ; nothing was changed",
            ));
        }
        return Ok(first);
    }
    let mut line = String::new();
    std::io::stdin()
        .read_line(&mut line)
        .map_err(|e| Failure::usage(format!("cannot read the password from stdin: {e}")))?;
    Ok(line.trim_end_matches(['\n', '\r']).to_string())
}

/// `casework agent add`, `agent list` and `agent password`.
pub(crate) async fn agent(cx: &Ctx<'_>, cmd: AgentCmd) -> Result<u8, Failure> {
    let (svc, json) = (&cx.app.service, cx.json);
    match cmd {
        AgentCmd::Add {
            name,
            role,
            email: addr,
            phone,
            signature,
        } => {
            // With --as, that person registers; without it, only the first person of a
            // new store may be added (core decides).
            let acting = match cx.actor {
                Some(_) => Some(cx.who().await?),
                None => None,
            };
            let role = match role {
                StaffRole::Agent => Role::Agent,
                StaffRole::Lead => Role::Lead,
                StaffRole::Admin => Role::Admin,
            };
            let person = Person {
                name,
                role,
                email: Some(address(&addr)?),
                phone,
                signature,
                notifications_off: Vec::new(),
            };
            let p = svc.register(acting.as_ref(), person).await?;
            if json {
                print_json(&p)?;
            } else {
                outln!("Registered {} ({})", p.name, p.role);
            }
            Ok(0)
        }
        AgentCmd::Password { name } => {
            let who = cx.who_or_operator().await?;
            let password = read_password()?;
            svc.set_password(&who, &name, &password).await?;
            if json {
                print_json(&json!({ "name": name, "password_set": true }))?;
            } else {
                outln!("Password set for {name}: sign in at /sign-in");
            }
            Ok(0)
        }
        AgentCmd::Notifications { name, off, on } => {
            let who = cx.who().await?;
            let settings = if off.is_empty() && on.is_empty() {
                svc.notification_settings(&who, &name).await?
            } else {
                svc.set_notifications(&who, &name, &off, &on).await?
            };
            if json {
                print_json(&settings)?;
            } else {
                let list = |kinds: &[casework_core::model::NotificationKind]| {
                    if kinds.is_empty() {
                        "none".to_string()
                    } else {
                        kinds
                            .iter()
                            .map(|k| k.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    }
                };
                outln!("{}: notified of {}", settings.person, list(&settings.on));
                outln!("turned off: {}", list(&settings.off));
            }
            Ok(0)
        }
        AgentCmd::List => {
            let who = cx.who_or_operator().await?;
            let people = svc.people(&who).await?;
            if json {
                print_json(&people)?;
            } else if people.is_empty() {
                outln!("Nobody is registered yet: casework agent add NAME --role admin --email E");
            } else {
                let rows: Vec<Vec<String>> = people
                    .iter()
                    .map(|p| {
                        vec![
                            p.name.clone(),
                            p.role.to_string(),
                            p.email
                                .as_ref()
                                .map(ToString::to_string)
                                .unwrap_or_default(),
                            p.phone.clone().unwrap_or_default(),
                        ]
                    })
                    .collect();
                out!(
                    "{}",
                    output::table(&["NAME", "ROLE", "EMAIL", "PHONE"], &rows)
                );
            }
            Ok(0)
        }
    }
}

/// 32 bytes from the operating system's random source, as `cw_` and 64 hex digits. There
/// is no fallback: a token must never be guessable.
fn new_secret() -> Result<String, Failure> {
    let mut bytes = [0u8; 32];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .map_err(|e| {
            Failure::unavailable(format!("cannot read /dev/urandom for a token secret: {e}"))
        })?;
    Ok(format!(
        "cw_{}",
        bytes.iter().map(|b| format!("{b:02x}")).collect::<String>()
    ))
}

/// `casework token create`, `list` and `revoke`.
pub(crate) async fn token(cx: &Ctx<'_>, cmd: TokenCmd) -> Result<u8, Failure> {
    let (svc, json) = (&cx.app.service, cx.json);
    let who = cx.who().await?;
    match cmd {
        TokenCmd::Create {
            name,
            role,
            customer_email,
        } => {
            let role = match role {
                TokenRole::Admin => Role::Admin,
                TokenRole::Lead => Role::Lead,
                TokenRole::Agent => Role::Agent,
                TokenRole::Customer => Role::Customer,
                TokenRole::Service => Role::Service,
            };
            let customer = customer_email.as_deref().map(address).transpose()?;
            let secret = new_secret()?;
            let t = svc
                .create_token(&who, &name, role, customer, &secret)
                .await?;
            if json {
                print_json(&json!({
                    "id": t.id,
                    "name": t.name,
                    "role": t.role,
                    "customer_email": t.customer_email,
                    "token": secret,
                }))?;
            } else {
                outln!(
                    "Token {} for {} ({}). Keep the secret now; it is not shown again:",
                    t.id,
                    t.name,
                    t.role
                );
                outln!("{secret}");
            }
            Ok(0)
        }
        TokenCmd::List => {
            let tokens = svc.tokens(&who).await?;
            if json {
                print_json(&tokens)?;
            } else if tokens.is_empty() {
                outln!("No tokens yet: casework token create --name NAME --role ROLE");
            } else {
                let rows: Vec<Vec<String>> = tokens
                    .iter()
                    .map(|t| {
                        vec![
                            t.id.clone(),
                            t.name.clone(),
                            t.role.to_string(),
                            t.customer_email
                                .as_ref()
                                .map(ToString::to_string)
                                .unwrap_or_default(),
                            output::when(t.created_at),
                            t.revoked_at.map(output::when).unwrap_or_default(),
                        ]
                    })
                    .collect();
                out!(
                    "{}",
                    output::table(
                        &["ID", "NAME", "ROLE", "CUSTOMER", "CREATED", "REVOKED"],
                        &rows
                    )
                );
            }
            Ok(0)
        }
        TokenCmd::Revoke { id } => {
            let t = svc.revoke_token(&who, &id).await?;
            if json {
                print_json(&t)?;
            } else {
                outln!("Token {} ({}) revoked", t.id, t.name);
            }
            Ok(0)
        }
    }
}
