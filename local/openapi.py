"""Generate the OpenAPI document from the handlers' resolvers into shared/openapi.json.

Each function module is loaded by file path (every folder has an ``app.py``) and its resolver's
schema is merged with Powertools' OpenAPIMerge. ``--check`` exits non-zero when the committed
copy is stale.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "shared" / "openapi.json"
sys.path.insert(0, str(ROOT / "layers" / "core"))

DESCRIPTION = (
    "Timmy sells AI work for Bitcoin over Lightning. Errors are "
    '`{"error": {"code", "message"}}`; amounts are integer sats.'
)


def generate() -> dict[str, Any]:
    from aws_lambda_powertools.event_handler.openapi.merge import OpenAPIMerge

    from local.stack import load_module
    from timmy import __version__

    merger = OpenAPIMerge(
        title="Timmy API", version=__version__, description=DESCRIPTION, on_conflict="error"
    )
    for app_file in sorted((ROOT / "functions").glob("*/app.py")):
        module = load_module(app_file, f"openapi_{app_file.parent.name}")
        resolver = getattr(module, "app", None)
        if resolver is not None and hasattr(resolver, "get_openapi_schema"):
            merger.add_schema(resolver.get_openapi_schema())
    schema: dict[str, Any] = json.loads(merger.get_openapi_json_schema())
    return _with_error_envelope(schema)


def _with_error_envelope(schema: dict[str, Any]) -> dict[str, Any]:
    """Validation failures are 400s in our error envelope, not Powertools' default 422."""
    from timmy.api import ErrorEnvelope

    components = schema.setdefault("components", {}).setdefault("schemas", {})
    envelope = ErrorEnvelope.model_json_schema(ref_template="#/components/schemas/{model}")
    for name, definition in envelope.pop("$defs", {}).items():
        components[name] = definition
    components["ErrorEnvelope"] = envelope
    for name in ("HTTPValidationError", "ValidationError"):
        components.pop(name, None)
    error_content = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorEnvelope"}}}
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            responses = operation.setdefault("responses", {})
            responses.pop("422", None)
            responses.setdefault(
                "400", {"description": "Invalid request (error envelope)", "content": error_content}
            )
            if "requestBody" in operation:
                # timmy.api reads JSON bodies only.
                responses.setdefault(
                    "415",
                    {
                        "description": "unsupported_media_type: the body is not application/json",
                        "content": error_content,
                    },
                )
            for status, response in responses.items():
                if status.startswith(("4", "5")) and "content" not in response:
                    response["content"] = error_content
    return schema


def render(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--write", action="store_true", help="write shared/openapi.json")
    parser.add_argument(
        "--check", action="store_true", help="fail when the committed copy is stale"
    )
    args = parser.parse_args()
    text = render(generate())
    if args.write:
        OUTPUT.write_text(text)
        print(f"wrote {OUTPUT.relative_to(ROOT)}")  # noqa: T201
        return 0
    if args.check:
        if not OUTPUT.exists() or OUTPUT.read_text() != text:
            print("shared/openapi.json is stale: run `make openapi`")  # noqa: T201
            return 1
        return 0
    print(text)  # noqa: T201
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
