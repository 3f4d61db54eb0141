"""Each `dvc.yaml` stage receives only what it reads: `run(paths, cfg)`, where `cfg` is what the
stage's `config(params)` returns (its own params section, or a small object of the keys dvc.yaml
lists for it), never the whole `Params`."""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import typing
from types import ModuleType

import pytest
import yaml
from pydantic import BaseModel

from flightdelay.cli import COMMANDS
from flightdelay.core.params import Params, Paths
from tests.helpers import REPO_ROOT

STAGES = sorted(yaml.safe_load((REPO_ROOT / "dvc.yaml").read_text())["stages"])


def stage_module(name: str) -> ModuleType:
    return importlib.import_module(COMMANDS[name].module)


def mentions_params(tp: object) -> bool:
    """Whether a type is `Params` or holds one (a dataclass field, a generic argument)."""
    if tp is Params:
        return True
    if any(mentions_params(arg) for arg in typing.get_args(tp)):
        return True
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        return any(mentions_params(t) for t in typing.get_type_hints(tp).values())
    return False


@pytest.mark.parametrize("name", STAGES)
def test_a_stage_runs_on_its_paths_and_its_config(name: str) -> None:
    module = stage_module(name)
    config_hints = typing.get_type_hints(module.config)
    assert config_hints.get("p") is Params, f"{name}.config must take the Params"
    cfg_type = config_hints["return"]
    run_params = list(inspect.signature(module.run).parameters.values())
    run_hints = typing.get_type_hints(module.run)
    positional = [q.name for q in run_params if q.kind is q.POSITIONAL_OR_KEYWORD]
    assert len(positional) == 2, f"{name}.run takes {positional}: want (paths, cfg)"
    assert run_hints[positional[0]] is Paths, f"{name}.run's first argument is not Paths"
    assert run_hints[positional[1]] is cfg_type, f"{name}.run's config is not what {name}.config returns"
    assert not any(mentions_params(t) for t in run_hints.values()), f"{name}.run sees the whole Params"
    assert not mentions_params(cfg_type), f"{name}'s config holds the whole Params"
    # A config of its own is frozen: a stage cannot change what the next one reads.
    if dataclasses.is_dataclass(cfg_type):
        assert cfg_type.__dataclass_params__.frozen, f"{cfg_type.__name__} is not frozen"  # type: ignore[attr-defined]
    else:
        assert issubclass(cfg_type, BaseModel) and cfg_type.model_config.get("frozen"), cfg_type


def test_the_check_sees_a_stage_that_takes_the_whole_params() -> None:
    """Not vacuous: a config object that carries the Params is caught."""

    @dataclasses.dataclass(frozen=True)
    class Leaky:
        params: Params

    assert mentions_params(Leaky) and mentions_params(Params) and not mentions_params(Paths)
