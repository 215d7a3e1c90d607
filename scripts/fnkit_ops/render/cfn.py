"""CloudFormation intrinsic functions as Python values, dumped as YAML short tags (`!Ref X`).

The template is built as plain data (dicts, lists, strings) with these few node types where
CloudFormation needs a function; `dump` writes it as block YAML that cfn-lint, the SAM translator and
`sam build` read as the hand-written template was read.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import yaml


@dataclass(frozen=True)
class Tag:
    """One intrinsic function: `!<name> <value>`; value is a scalar or a list."""

    name: str
    value: Any


def ref(name: str) -> Tag:
    return Tag("Ref", name)


def sub(text: str, variables: dict[str, Any] | None = None) -> Tag:
    return Tag("Sub", text if variables is None else [text, variables])


def get_att(name: str) -> Tag:
    return Tag("GetAtt", name)


def if_(condition: str, when_true: Any, when_false: Any) -> Tag:
    return Tag("If", [condition, when_true, when_false])


def equals(left: Any, right: Any) -> Tag:
    return Tag("Equals", [left, right])


def not_(value: Any) -> Tag:
    return Tag("Not", [value])


def find_in_map(mapping: str, key: Any, attribute: str) -> Tag:
    return Tag("FindInMap", [mapping, key, attribute])


def join(separator: str, values: list[Any]) -> Tag:
    return Tag("Join", [separator, values])


NO_VALUE = ref("AWS::NoValue")


class _Dumper(yaml.SafeDumper):  # type: ignore[misc]  # untyped base
    """Block style, keys in insertion order, no aliases, long lines kept whole."""

    def ignore_aliases(self, data: Any) -> bool:
        return True

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> Any:
        return super().increase_indent(flow, False)  # indent list items under their key

    def choose_scalar_style(self) -> str:
        """`!Ref Name`, not `!Ref 'Name'`: a short-tagged scalar is plain wherever YAML allows it."""
        event = self.event
        tag = getattr(event, "tag", None) or ""
        if tag.startswith("!") and not tag.startswith("!!") and not getattr(event, "style", None):
            analysis: Any = getattr(self, "analysis", None) or self.analyze_scalar(event.value)
            setattr(self, "analysis", analysis)  # noqa: B010  # the emitter caches it there, as its base does
            plain = analysis.allow_flow_plain if self.flow_level else analysis.allow_block_plain
            if plain and not analysis.multiline:
                return ""
        style: str = super().choose_scalar_style()
        return style


def _represent_tag(dumper: yaml.SafeDumper, tag: Tag) -> yaml.Node:
    name = f"!{tag.name}"
    if isinstance(tag.value, list):
        return dumper.represent_sequence(name, tag.value)
    return dumper.represent_scalar(name, str(tag.value))


def _represent_str(dumper: yaml.SafeDumper, text: str) -> yaml.Node:
    style = "|" if "\n" in text else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", text, style=style)


_Dumper.add_representer(Tag, _represent_tag)
_Dumper.add_representer(str, _represent_str)
_Dumper.add_multi_representer(StrEnum, _represent_str)
"""The registry's words (`fnkit_runtime.vocabulary`) are StrEnums: written as their plain values."""
_Dumper.add_representer(dict, lambda d, data: d.represent_dict(data.items()))


def dump(document: Any) -> str:
    """Block YAML of `document`, intrinsic functions as short tags."""
    text: str = yaml.dump(document, Dumper=_Dumper, sort_keys=False, width=10_000, allow_unicode=True)
    return text
