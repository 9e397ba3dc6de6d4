"""The API's own description (what /docs shows): every operation says what it does, and every
request body carries examples that the body's model accepts, so "Try it out" starts from a
valid request."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI
from pydantic import BaseModel


@pytest.fixture
def spec(app: FastAPI) -> dict[str, Any]:
    return app.openapi()


def _operations(spec: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [
        (f"{method.upper()} {path}", operation)
        for path, operations in spec["paths"].items()
        for method, operation in operations.items()
    ]


def _models() -> dict[str, type[BaseModel]]:
    found: dict[str, type[BaseModel]] = {}
    pending: list[type[BaseModel]] = [BaseModel]
    while pending:
        for sub in pending.pop().__subclasses__():
            pending.append(sub)
            if sub.__module__.startswith("earlywarn."):
                found[sub.__name__] = sub
                # The name FastAPI gives a schema whose class name is not unique.
                found[f"{sub.__module__}.{sub.__name__}".replace(".", "__")] = sub
    return found


def test_every_operation_is_described(spec: dict[str, Any]) -> None:
    undescribed = [name for name, op in _operations(spec) if not op.get("description")]
    assert undescribed == []


def test_every_request_body_has_examples_its_model_accepts(spec: dict[str, Any]) -> None:
    models = _models()
    bodies: set[str] = set()
    for _, operation in _operations(spec):
        for content in operation.get("requestBody", {}).get("content", {}).values():
            schema = content["schema"]
            refs = [schema] if "$ref" in schema else schema.get("anyOf", [])
            bodies.update(r["$ref"].rsplit("/", 1)[-1] for r in refs if "$ref" in r)
    assert len(bodies) >= 14
    components = spec["components"]["schemas"]
    for name in sorted(bodies):
        examples = components[name].get("examples")
        assert examples, f"{name} has no example"
        for example in examples:
            models[name].model_validate(example)  # raises if the example has gone stale
