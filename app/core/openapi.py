"""The OpenAPI document states the rules the code checks, so a generated client can check a
request before sending it: what is true of every text and every number is written into the
document once, here, rather than on each field."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema

NO_NUL = r"^[^\x00]*$"
"""Text PostgreSQL can store: no U+0000 (refused with `nul_character` before routing,
`app/core/limits.py`)."""

SPACE = r"\t-\r\x1c-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
"""What `str.strip()` strips, spelled out: a regex's class of spaces means less to some
engines (a generator offered U+0085 as a visible character, which Pydantic then stripped)."""
_VISIBLE = rf"[^{SPACE}\x00]"


class NotBlank:
    """Schema metadata for text stripped of surrounding whitespace before its minimum length
    is checked (`StringConstraints(strip_whitespace=True, min_length=n)`): the document's
    pattern asks for n characters from the first visible one to the last, so "  " is not
    offered as a one-character reason. Put it after the constraints in `Annotated[...]`."""

    def __get_pydantic_json_schema__(
        self, core_schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        schema = handler(core_schema)
        shortest = int(schema.get("minLength", 1))
        middle = "" if shortest <= 1 else rf"[^\x00]{{{shortest - 2},}}{_VISIBLE}"
        schema["pattern"] = rf"^[^\x00]*{_VISIBLE}{middle}[^\x00]*$"
        return schema


NOT_BLANK = NotBlank()


def document_input_rules(document: dict[str, Any]) -> dict[str, Any]:
    """Write into an OpenAPI document what holds for every input: text carries no U+0000 (a
    string schema with no format, choices or pattern of its own gets `NO_NUL`), and a decimal
    given with bounds is a JSON number (Pydantic offers any string beside the bounded number;
    the API takes a numeric string too, but the document promises only what it checks)."""
    _rewrite(document.get("components", {}).get("schemas", {}))
    for operations in document.get("paths", {}).values():
        for operation in operations.values():
            for parameter in operation.get("parameters", []):
                _rewrite(parameter.get("schema", {}))
    return document


def _rewrite(node: Any) -> None:
    if isinstance(node, list):
        for item in node:
            _rewrite(item)
        return
    if not isinstance(node, dict):
        return
    alternatives = node.get("anyOf")
    if isinstance(alternatives, list) and any(
        a.get("type") == "number" and len(a) > 1 for a in alternatives
    ):
        node["anyOf"] = [a for a in alternatives if a != {"type": "string"}]
    if node.get("type") == "string" and not {"format", "enum", "const", "pattern"} & set(node):
        node["pattern"] = NO_NUL
    for value in node.values():
        _rewrite(value)


def query_parameters(model: type[BaseModel]) -> list[dict[str, Any]]:
    """A model's fields as an operation's query parameters, for a route that validates its
    query with the model in one step (`openapi_extra={"parameters": ...}`)."""
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    required = set(schema.get("required", []))
    parameters = []
    for name, field_schema in schema["properties"].items():
        field_schema = {k: v for k, v in field_schema.items() if k not in {"title", "description"}}
        parameter: dict[str, Any] = {
            "name": name,
            "in": "query",
            "required": name in required,
            "schema": field_schema,
        }
        if description := schema["properties"][name].get("description"):
            parameter["description"] = description
        parameters.append(parameter)
    return parameters
