"""The dvc.lock comparison (pure): layout and order are no difference, a moved hash is one line."""

from __future__ import annotations

import yaml

from flightdelay.lifecycle.lockcheck import compare

LOCK = """\
schema: '2.0'
stages:
  train:
    cmd: python -m flightdelay train
    deps:
    - path: data/features
      hash: md5
      md5: aaaa1111aaaa1111aaaa1111aaaa1111.dir
      size: 10
      nfiles: 2
    params:
      params.yaml:
        train:
          n_estimators: 30
          max_depth: 4
    outs:
    - path: models/model.json
      hash: md5
      md5: bbbb2222bbbb2222bbbb2222bbbb2222
      size: 5
  bundle:
    cmd: python -m flightdelay bundle
    deps:
    - path: models/model.json
      hash: md5
      md5: bbbb2222bbbb2222bbbb2222bbbb2222
    outs:
    - path: models/bundle
      hash: md5
      md5: cccc3333cccc3333cccc3333cccc3333.dir
"""


def test_order_and_layout_are_not_differences() -> None:
    data = yaml.safe_load(LOCK)
    data["stages"] = dict(reversed(list(data["stages"].items())))
    for stage in data["stages"].values():
        stage["deps"] = list(reversed(stage["deps"]))
        for entry in stage["deps"] + stage["outs"]:
            entry.pop("size", None)  # sizes travel with the hash
    noisy = yaml.safe_dump(data, sort_keys=True, indent=4, default_flow_style=False)
    assert noisy != LOCK
    assert compare(LOCK, noisy) == []


def test_a_retrained_model_is_named_by_stage_and_output() -> None:
    retrained = LOCK.replace("n_estimators: 30", "n_estimators: 31").replace(
        "bbbb2222bbbb2222bbbb2222bbbb2222", "dddd4444dddd4444dddd4444dddd4444"
    )
    lines = [d.line() for d in compare(LOCK, retrained)]
    assert lines == [
        "stage train: out models/model.json: committed bbbb2222bbbb, reproduced dddd4444dddd",
        "stage train: param params.yaml:train.n_estimators: committed 30, reproduced 31",
        "stage bundle: dep models/model.json: committed bbbb2222bbbb, reproduced dddd4444dddd",
    ]


def test_a_stage_on_one_side_only_is_a_difference() -> None:
    data = yaml.safe_load(LOCK)
    del data["stages"]["bundle"]
    lines = [d.line() for d in compare(LOCK, yaml.safe_dump(data))]
    assert lines == ["stage bundle: only in the committed lock"]
