"""Sending: mails through one SMTP connection per run, webhooks as one POST each.

A message that cannot be delivered is logged as a warning (secrets redacted) and never raised:
notifications never fail a run.
"""

from __future__ import annotations

import email.utils
import smtplib
import ssl
from email.message import EmailMessage

import httpx
from loguru import logger

from idsync.builtin.notify._compose import Mail, Post
from idsync.builtin.notify.settings import SmtpSettings, Webhook
from idsync.http import ApiClient
from idsync.secrets import redact


def describe(exc: BaseException) -> str:
    """An exception as one line, secrets redacted."""
    return redact(f"{type(exc).__name__}: {exc}")


def send_mails(settings: SmtpSettings, mails: list[Mail], run_id: int) -> None:
    """Send every mail over one connection; each failure is logged on its own."""
    log = logger.bind(run=run_id)
    try:
        server = _connect(settings)
    except Exception as exc:
        log.warning(
            "notification mail to {} recipient(s) not sent: SMTP {}:{}: {}",
            len(mails),
            settings.host,
            settings.port,
            describe(exc),
        )
        return
    sent = 0
    try:
        for mail in mails:
            message = EmailMessage()
            message["From"] = settings.sender
            message["To"] = mail.recipient
            message["Subject"] = mail.subject
            message["Date"] = email.utils.formatdate(localtime=True)
            message["Message-ID"] = email.utils.make_msgid(domain="idsync.invalid")
            message["X-Idsync-Run"] = str(run_id)
            message.set_content(mail.body)
            try:
                server.send_message(message)
                sent += 1
            except (smtplib.SMTPException, OSError) as exc:
                log.warning("notification mail to {} not sent: {}", mail.recipient, describe(exc))
    finally:
        try:
            server.quit()
        except (smtplib.SMTPException, OSError):
            server.close()
    log.info("notification mail sent to {} of {} recipient(s)", sent, len(mails))


def _connect(settings: SmtpSettings) -> smtplib.SMTP:
    server: smtplib.SMTP
    if settings.security == "ssl":
        server = smtplib.SMTP_SSL(
            settings.host,
            settings.port,
            timeout=settings.timeout,
            context=ssl.create_default_context(),
        )
    else:
        server = smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout)
    try:
        if settings.security == "starttls":
            server.starttls(context=ssl.create_default_context())
        if settings.username:
            password = settings.password.get_secret_value() if settings.password else ""
            server.login(settings.username, password)
    except BaseException:
        server.close()
        raise
    return server


def post(hook: Webhook, post: Post, run_id: int) -> None:
    """POST one webhook's payload (retrying transient failures as the webhook says)."""
    headers = {k: v.get_secret_value() for k, v in hook.headers.items()}
    log = logger.bind(run=run_id)
    url = httpx.URL(hook.url)
    try:
        with ApiClient(
            f"{url.scheme}://{url.netloc.decode('ascii')}",
            headers=headers,
            timeout=hook.timeout,
            retries=hook.retries,
            backoff=0.5,
            max_backoff=5.0,
            system=f"webhook {post.webhook}",
        ) as client:
            client.request("POST", url.raw_path.decode("ascii"), json=post.payload)
    except Exception as exc:
        log.warning("notification webhook {} not delivered: {}", post.webhook, describe(exc))
        return
    log.info("notification webhook {} delivered {} event(s)", post.webhook, post.events)
