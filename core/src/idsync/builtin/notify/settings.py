"""The ``notifications:`` section of the pipeline file: mail server, webhooks and rules."""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationInfo,
    model_validator,
)

from idsync.expressions import ExpressionError, Expressions
from idsync.secrets import register_secret

__all__ = [
    "DEFAULT_BODY",
    "DEFAULT_SUBJECT",
    "EVENT_KINDS",
    "EventKind",
    "NotificationRule",
    "Notifications",
    "SmtpSettings",
    "Webhook",
]

EventKind = Literal[
    "created",
    "linked",
    "updated",
    "enabled",
    "disabled",
    "deleted",
    "granted",
    "revoked",
    "failed",
    "held",
    "blocked",
]
EVENT_KINDS: tuple[str, ...] = EventKind.__args__  # type: ignore[attr-defined]

DEFAULT_SUBJECT = "[idsync] {{ run.pipeline }}: {{ headline }}"
DEFAULT_BODY = """\
idsync pipeline {{ run.pipeline }}, run {{ run.id }}{% if run.dry_run %} (dry-run){% endif %}, \
as of {{ run.as_of }}: {{ headline }}.
{% for kind, items in by_kind.items() %}
{{ kind | capitalize }} ({{ items | length }}):
{% for e in items %}- {{ e.text }}
{% endfor %}{% endfor %}{% if more %}
... and {{ more }} more: idsync audit {{ run.pipeline_file }} --run {{ run.id }}
{% endif %}"""


class _Config(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SmtpSettings(_Config):
    """The mail server notifications go through."""

    host: str = Field(description="SMTP server host name or address.")
    port: int = Field(default=587, ge=1, le=65535, description="SMTP port.")
    security: Literal["starttls", "ssl", "none"] = Field(
        default="starttls",
        description="starttls (upgrade a plain connection), ssl (TLS from the start) or none.",
    )
    username: str | None = Field(default=None, description="Log in with this user name.")
    password: SecretStr | None = Field(
        default=None, description="The login password, as a ${VARIABLE} reference."
    )
    sender: str = Field(description="The From address, e.g. 'idsync <idsync@example.org>'.")
    timeout: float = Field(default=10.0, gt=0, description="Seconds to wait for the server.")


class Webhook(_Config):
    """An HTTP endpoint that receives one JSON POST per run with the run's events."""

    url: str = Field(description="http:// or https:// URL to POST to.")
    headers: dict[str, SecretStr] = Field(
        default_factory=dict,
        description="Extra request headers (e.g. Authorization), as ${VARIABLE} references.",
    )
    timeout: float = Field(default=10.0, gt=0, description="Seconds to wait for an answer.")
    retries: int = Field(default=2, ge=0, le=10, description="Retries of transient failures.")

    @model_validator(mode="after")
    def _http(self) -> Webhook:
        if not re.match(r"^https?://[^/\s]+", self.url):
            raise ValueError("url must be an http:// or https:// URL")
        return self


class NotificationRule(_Config):
    """Which events go to whom: e-mail recipients and/or a webhook."""

    events: list[EventKind] = Field(min_length=1, description="The event kinds this rule sends.")
    systems: list[str] | None = Field(
        default=None,
        description="Only events of these targets (or, for blocked, sources); default: all.",
    )
    to: list[str] = Field(
        default_factory=list,
        description="Recipients: addresses or templates per event ({{ manager.contact.email }}).",
    )
    fallback: list[str] = Field(
        default_factory=list,
        description="Recipients for an event whose 'to' templates give no address.",
    )
    webhook: str | None = Field(default=None, description="The name of a webhook to POST to.")
    subject: str | None = Field(default=None, description="Subject template (default: global).")
    body: str | None = Field(default=None, description="Body template (default: global).")

    @model_validator(mode="after")
    def _somewhere(self) -> NotificationRule:
        if not self.to and self.webhook is None:
            raise ValueError("give recipients ('to') and/or a 'webhook'")
        return self


class Notifications(_Config):
    """E-mail and webhook notifications, batched per run."""

    smtp: SmtpSettings | None = Field(
        default=None, description="The mail server; needed when a rule sends e-mail."
    )
    webhooks: dict[str, Webhook] = Field(
        default_factory=dict, description="Webhooks by name, for rules to post to."
    )
    rules: list[NotificationRule] = Field(
        min_length=1, description="Which events go to whom. At least one."
    )
    subject: str = Field(default=DEFAULT_SUBJECT, description="Default subject template.")
    body: str = Field(default=DEFAULT_BODY, description="Default body template.")
    max_events: int = Field(
        default=200, ge=1, description="Events listed per mail or webhook; the rest are counted."
    )
    dry_run: bool = Field(default=False, description="Also notify about dry-run runs.")

    @model_validator(mode="after")
    def _consistent(self) -> Notifications:
        problems = []
        expressions = Expressions()
        for i, rule in enumerate(self.rules):
            if (rule.to or rule.fallback) and self.smtp is None:
                problems.append(f"rules.{i}: sends e-mail but there are no smtp settings")
            if rule.webhook is not None and rule.webhook not in self.webhooks:
                known = ", ".join(sorted(self.webhooks)) or "none"
                problems.append(f"rules.{i}.webhook: no webhook named {rule.webhook!r} ({known})")
            templates = [
                *(f"to.{n}" for n in range(len(rule.to))),
                *(f"fallback.{n}" for n in range(len(rule.fallback))),
                "subject",
                "body",
            ]
            for where in templates:
                name, _, index = where.partition(".")
                value = getattr(rule, name)
                text = value[int(index)] if index else value
                problems.extend(_compile(expressions, text, f"rules.{i}.{where}"))
        problems.extend(_compile(expressions, self.subject, "subject"))
        problems.extend(_compile(expressions, self.body, "body"))
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @model_validator(mode="after")
    def _referenced_urls_are_secret(self, info: ValidationInfo) -> Notifications:
        """A webhook URL given by ``${VARIABLE}`` often carries its own token: it is
        redacted wherever idsync writes, like any secret."""
        context: Any = info.context or {}
        referenced = context.get("from_environment", set())
        for name, hook in self.webhooks.items():
            if f"webhooks.{name}.url" in referenced:
                register_secret(hook.url)
        return self


def _compile(expressions: Expressions, text: str | None, where: str) -> list[str]:
    if text is None:
        return []
    try:
        expressions.template(text)
    except ExpressionError as exc:
        return [f"{where}: {exc}"]
    return []
