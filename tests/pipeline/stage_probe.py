"""Run one pipeline stage as `python -m flightdelay <stage>` does and print, as JSON, what it read:
every params key it touched and every module of the package it imported.

    python tests/pipeline/stage_probe.py <stage>      (in a pipeline repository)

The stage runs as the command runs it, `run(paths, config(params))`. A key is recorded when a
stage reads a field of a params section, in its `config` or in `run` through a section `config`
passed on (`p.train.max_depth` records `train.max_depth`); dumping a whole section
(`model_dump`) records the section. `paths` are not params for DVC (they are deps and outs) and
are left out.
"""

from __future__ import annotations

import importlib
import json
import sys
from typing import Any

from pydantic import BaseModel

from flightdelay.core.params import Params, Section, load_params


def _section_names(p: Params) -> dict[int, str]:
    """id(section object) → its dotted params.yaml name ('' for the root)."""
    names: dict[int, str] = {}

    def walk(obj: BaseModel, prefix: str) -> None:
        names[id(obj)] = prefix
        for name, info in type(obj).model_fields.items():
            value = obj.__dict__[name]
            if isinstance(value, BaseModel):
                walk(value, f"{prefix}.{info.alias or name}".lstrip("."))

    walk(p, "")
    return names


def probe(stage: str) -> dict[str, Any]:
    p = load_params("params.yaml")
    names = _section_names(p)
    used: set[str] = set()
    original = Section.__getattribute__

    def recording(self: Any, name: str) -> Any:
        value = original(self, name)
        prefix = names.get(id(self))
        if prefix is None:
            return value
        fields = type(self).model_fields
        if name in fields and not isinstance(value, BaseModel):
            used.add(f"{prefix}.{fields[name].alias or name}".lstrip("."))
        elif name in ("model_dump", "model_dump_json") and prefix:
            used.add(prefix)
        return value

    Section.__getattribute__ = recording  # type: ignore[method-assign]
    try:
        module = importlib.import_module(f"flightdelay.pipeline.{stage}")
        module.run(p.paths, module.config(p))
    finally:
        Section.__getattribute__ = original  # type: ignore[method-assign]
    modules = sorted(
        m.__file__
        for name, m in list(sys.modules.items())
        if (name == "flightdelay" or name.startswith("flightdelay.")) and getattr(m, "__file__", None)
    )
    return {"params": sorted(k for k in used if not k.startswith("paths.")), "modules": modules}


if __name__ == "__main__":
    print(json.dumps(probe(sys.argv[1])))
