//! Working a case beside `case`: calls, posts, contact attempts, emails, and asking a
//! group for help.

use casework_core::documents::EmailFields;
use casework_core::model::{
    CallDirection, ContactChannel, ContactOutcome, PostKind, TemplateName, Visibility,
};
use casework_core::workflow::Command;

use crate::app::Failure;
use crate::cli::*;
use crate::output::{out, print_json};

use super::{Ctx, changed, number, read_body};

/// `casework call log`.
pub(crate) async fn call(cx: &Ctx<'_>, cmd: CallCmd) -> Result<u8, Failure> {
    let (svc, json) = (&cx.app.service, cx.json);
    let CallCmd::Log {
        number: n,
        duration,
        screenshare,
        channel,
        inbound: _,
        outbound,
        notes,
    } = cmd;
    let who = cx.who().await?;
    let minutes = crate::durations::parse_minutes(&duration).map_err(Failure::usage)?;
    let cmd = Command::LogCall {
        direction: if outbound {
            CallDirection::Outbound
        } else {
            CallDirection::Inbound
        },
        duration_minutes: minutes,
        screenshare,
        channel,
        notes,
    };
    changed(json, &svc.execute(&who, number(&n)?, None, cmd).await?)
}

/// `casework post add`.
pub(crate) async fn post(cx: &Ctx<'_>, cmd: PostCmd) -> Result<u8, Failure> {
    let (svc, json) = (&cx.app.service, cx.json);
    let PostCmd::Add {
        number: n,
        kind,
        customer_visible,
        body,
        body_file,
    } = cmd;
    let who = cx.who().await?;
    let cmd = Command::AddPost {
        kind: match kind {
            PostKindArg::Note => PostKind::Note,
            PostKindArg::CallNotes => PostKind::CallNotes,
            PostKindArg::Summary => PostKind::Summary,
        },
        body: read_body(body, body_file)?,
        visibility: if customer_visible {
            Visibility::Customer
        } else {
            Visibility::Internal
        },
    };
    changed(json, &svc.execute(&who, number(&n)?, None, cmd).await?)
}

/// `casework contact record`.
pub(crate) async fn contact(cx: &Ctx<'_>, cmd: ContactCmd) -> Result<u8, Failure> {
    let (svc, json) = (&cx.app.service, cx.json);
    let ContactCmd::Record {
        number: n,
        channel,
        outcome,
        note,
    } = cmd;
    let who = cx.who().await?;
    let cmd = Command::RecordContact {
        channel: match channel {
            ChannelArg::Email => ContactChannel::Email,
            ChannelArg::Phone => ContactChannel::Phone,
        },
        outcome: match outcome {
            OutcomeArg::NoResponse => ContactOutcome::NoResponse,
            OutcomeArg::Reached => ContactOutcome::Reached,
        },
        note,
    };
    changed(json, &svc.execute(&who, number(&n)?, None, cmd).await?)
}

/// `casework email preview` and `email send`.
pub(crate) async fn email(cx: &Ctx<'_>, cmd: EmailCmd) -> Result<u8, Failure> {
    let (svc, json) = (&cx.app.service, cx.json);
    let who = cx.who().await?;
    let (send, args) = match cmd {
        EmailCmd::Preview(a) => (false, a),
        EmailCmd::Send(a) => (true, a),
    };
    let template = match args.template {
        TemplateArg::InitialContact => TemplateName::InitialContact,
        TemplateArg::FollowUp => TemplateName::FollowUp,
        TemplateArg::NonResponseClosure => TemplateName::NonResponseClosure,
        TemplateArg::ReopenNotice => TemplateName::ReopenNotice,
    };
    let fields = EmailFields {
        challenge: args.challenge,
        discussed: args.discussed,
        next_steps: args.next_steps,
        documentation: args.documentation,
        note: args.note,
    };
    let n = number(&args.number)?;
    if send {
        changed(
            json,
            &svc.execute(&who, n, None, Command::SendEmail { template, fields })
                .await?,
        )
    } else {
        let email = svc.preview_email(&who, n, template, &fields).await?;
        if json {
            print_json(&email)?;
        } else {
            out!(
                "To: {} <{}>\nSubject: {}\n\n{}",
                email.to_name,
                email.to,
                email.subject,
                email.body
            );
        }
        Ok(0)
    }
}

/// `casework swarm`.
pub(crate) async fn swarm(cx: &Ctx<'_>, cmd: SwarmArgs) -> Result<u8, Failure> {
    let (svc, json) = (&cx.app.service, cx.json);
    let SwarmArgs {
        number: n,
        group,
        question,
    } = cmd;
    let who = cx.who().await?;
    changed(
        json,
        &svc.execute(&who, number(&n)?, None, Command::Swarm { group, question })
            .await?,
    )
}
