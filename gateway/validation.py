"""Checks on a client's write input that hold for every vendor, run before any call goes out.

Each check returns `{field: reason}` for what is wrong, keyed by the GraphQL input field the
client wrote (`firstName`, `emails.0`); a vendor adds its own required fields and
raises one BAD_USER_INPUT listing them all (`raise_if_any`).
"""

from __future__ import annotations

from collections.abc import Mapping

from email_validator import EmailNotValidError, validate_email

from gateway import errors
from gateway.filtering import normalize_phone
from gateway.model import ContactChanges


def email_problems(changes: ContactChanges) -> dict[str, str]:
    problems: dict[str, str] = {}
    for index, email in enumerate(changes.get("emails") or []):
        try:
            validate_email(email, check_deliverability=False)
        except EmailNotValidError as exc:
            problems[f"emails.{index}"] = f"not an email address ({exc})"
    return problems


def phone_problems(changes: ContactChanges, region: str) -> dict[str, str]:
    problems: dict[str, str] = {}
    for index, phone in enumerate(changes.get("phones") or []):
        if normalize_phone(phone, region) is None:
            problems[f"phones.{index}"] = "not a phone number"
    return problems


# No vendor field holds more; a longer value is a mistake (or an attack), refused before any call.
MAX_TEXT = 1000


def length_problems(changes: ContactChanges) -> dict[str, str]:
    problems: dict[str, str] = {}
    for name, value in changes.values.items():
        items = value if isinstance(value, list) else [value]
        for index, item in enumerate(items):
            texts = (
                [item]
                if isinstance(item, str)
                else [v for v in vars(item).values()]
                if hasattr(item, "__dict__")
                else []
            )
            if any(isinstance(t, str) and len(t) > MAX_TEXT for t in texts):
                where = input_name(name) + (f".{index}" if isinstance(value, list) else "")
                problems[where] = f"longer than {MAX_TEXT} characters"
    return problems


def common_problems(changes: ContactChanges, region: str) -> dict[str, str]:
    """Malformed emails and phones and oversized texts, whatever the vendor."""
    return {**email_problems(changes), **phone_problems(changes, region), **length_problems(changes)}


def input_name(python_name: str) -> str:
    """The GraphQL input field name clients wrote: `first_name` -> `firstName`."""
    head, *rest = python_name.split("_")
    return head + "".join(part.title() for part in rest)


def unsupported_fields(changes: ContactChanges, supported: set[str], backend: str) -> dict[str, str]:
    """Fields given a non-empty value that this vendor has nowhere to store (keyed by input name)."""
    return {
        input_name(name): f"backend '{backend}' has no place for this field"
        for name, value in changes.values.items()
        if name not in supported and value not in (None, [], "")
    }


def raise_if_any(problems: Mapping[str, str], backend: str) -> None:
    if problems:
        listed = "; ".join(f"{field}: {why}" for field, why in problems.items())
        raise errors.BadUserInput(
            f"the input cannot be written to backend '{backend}': {listed}",
            fields=problems,
            backend=backend,
        )
