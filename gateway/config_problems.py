"""A validation failure as the lines a user reads: `path.of.key: why`, and for an unknown key the
nearest known one at that path ("did you mean")."""

from __future__ import annotations

import difflib
import typing
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, ValidationError


def explain(exc: ValidationError, prefix: tuple[str, ...], model: type[BaseModel]) -> list[str]:
    lines = []
    for err in exc.errors():
        loc = (*prefix, *(str(p) for p in err["loc"]))
        if err["type"] == "extra_forbidden":
            reason = "unknown key"
            nearest = difflib.get_close_matches(loc[-1], _keys_at(model, err["loc"][:-1]), n=1, cutoff=0.75)
            if nearest:
                reason += f"; did you mean {nearest[0]!r}?"
        elif err["type"] == "missing":
            reason = "required"
        else:
            reason = str(err["msg"]).removeprefix("Value error, ")
        lines.append(f"{dotted(loc)}: {reason}")
    return lines


def _keys_at(model: type[BaseModel], loc: Sequence[str | int]) -> list[str]:
    """The keys a model takes at `loc` inside it (list indexes skipped), for "did you mean"."""
    current: type[BaseModel] | None = model
    for step in loc:
        if isinstance(step, int):
            continue
        field = current.model_fields.get(step) if current is not None else None
        current = _model_in(field.annotation) if field is not None else None
    return list(current.model_fields) if current is not None else []


def _model_in(annotation: Any) -> type[BaseModel] | None:
    """The settings model an annotation holds (`CorsSettings`, `list[ApiKeySettings]`, `X | None`)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for argument in typing.get_args(annotation):
        found = _model_in(argument)
        if found is not None:
            return found
    return None


def dotted(path: tuple[str, ...]) -> str:
    return ".".join(path) or "<file>"
