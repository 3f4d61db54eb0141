"""The fast scorers (C kernel, numpy forest) give XGBoost's answers, or are not used at all."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import numpy as np
import pytest
import xgboost as xgb

from api import ckernel, treeeval
from api.scoring import SMALL_BATCH, load_model
from flightdelay.core import bundle

pytestmark = pytest.mark.serve_only


def _rows(n_features: int, n: int = 1000, seed: int = 7) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, n_features)).astype(np.float32)
    x *= rng.choice([1, 10, 1000], size=x.shape).astype(np.float32)
    x[rng.random(x.shape) < 0.3] = np.nan
    return x


@pytest.fixture(scope="module")
def kernel() -> object:
    lib = ckernel.load()
    assert lib is not None, "the C kernel is built by the session fixture in conftest.py"
    return lib


def test_numpy_forest_matches_the_booster_with_missing_values(bundles: tuple[Path, Path]) -> None:
    for path in bundles:
        b = bundle.load(path)
        forest = treeeval.from_booster(b.booster)
        assert forest is not None
        x = _rows(b.booster.num_features(), 300)
        ref = b.booster.inplace_predict(x)
        for n in (1, 2, SMALL_BATCH, 300):
            assert np.abs(forest.predict(x[:n]) - ref[:n]).max() <= 1e-6
        assert treeeval.check(forest, b.booster, x.shape[1]) <= 1e-6


def test_compiled_forest_matches_the_booster_at_every_batch_size(
    bundles: tuple[Path, Path], kernel: object
) -> None:
    for path in bundles:
        b = bundle.load(path)
        forest = treeeval.from_booster(b.booster)
        assert forest is not None
        compiled = treeeval.CompiledForest(forest, kernel)  # type: ignore[arg-type]
        x = _rows(b.booster.num_features())
        ref = b.booster.inplace_predict(x)
        for n in (1, 2, 7, 8, 9, 1000):
            assert np.abs(compiled.predict(x[:n]) - ref[:n]).max() <= 1e-6
        # Fortran order and float64 are made contiguous float32 first, not misread.
        assert np.abs(compiled.predict(np.asfortranarray(x[:50].astype(np.float64))) - ref[:50]).max() <= 1e-6
        assert compiled.predict(x[:0]).shape == (0,)
        with pytest.raises(ValueError, match="features"):
            compiled.predict(x[:, :-1])


def test_deep_and_stump_forests_are_walked_right(kernel: object) -> None:
    rng = np.random.default_rng(3)
    x = rng.normal(size=(3000, 6)).astype(np.float32)
    x[rng.random(x.shape) < 0.2] = np.nan
    y = (np.nan_to_num(x[:, 0]) * np.nan_to_num(x[:, 1]) > 0).astype(np.float32)
    # deep trees; stumps; single-leaf trees (no split is worth it), which need a pass-through level
    for params, rounds in (({"max_depth": 9}, 13), ({"max_depth": 1}, 3), ({"min_child_weight": 1e9}, 2)):
        booster = xgb.train(
            {"objective": "binary:logistic", "tree_method": "hist", **params}, xgb.DMatrix(x, label=y), rounds
        )
        forest = treeeval.from_booster(booster)
        assert forest is not None, params
        ref = booster.inplace_predict(x)
        assert np.abs(forest.predict(x[:8]) - ref[:8]).max() <= 1e-6, params
        compiled = treeeval.CompiledForest(forest, kernel)  # type: ignore[arg-type]
        assert np.abs(compiled.predict(x) - ref).max() <= 1e-6, params


def _cpu_has_avx512() -> bool:
    """AVX-512 F and CD (the walk's compares and its lzcnt)."""
    cpuinfo = Path("/proc/cpuinfo")
    flags = re.search(r"^flags\s*:(.*)$", cpuinfo.read_text(), re.M) if cpuinfo.is_file() else None
    return flags is not None and {"avx512f", "avx512cd"} <= set(flags.group(1).split())


def test_the_vectorised_walk_gives_the_portable_kernels_bits(kernel: object) -> None:
    """Depth 5 (the pipeline's trees) on an AVX-512 CPU takes the vectorised walk: same bits as the
    portable kernel at every block and chunk boundary, missing and infinite values included."""
    rng = np.random.default_rng(11)
    x = rng.normal(size=(4000, 23)).astype(np.float32) * rng.choice([1, 10, 1000], size=(4000, 23))
    x = x.astype(np.float32)
    y = (np.nan_to_num(x[:, 0]) + np.nan_to_num(x[:, 3]) * np.nan_to_num(x[:, 5]) > 0).astype(np.float32)
    x[rng.random(x.shape) < 0.2] = np.nan
    booster = xgb.train(
        {"objective": "binary:logistic", "tree_method": "hist", "max_depth": 5, "eta": 0.1, "seed": 1},
        xgb.DMatrix(x, label=y),
        61,  # not a multiple of the portable kernel's 8 lanes: padding trees too
    )
    forest = treeeval.from_booster(booster)
    assert forest is not None and forest.depth == 5
    fast = treeeval.CompiledForest(forest, kernel)  # type: ignore[arg-type]
    portable = treeeval.CompiledForest(forest, kernel, portable=True)  # type: ignore[arg-type]
    # On this machine's CPU the vectorised walk must run, not be passed over silently.
    assert fast.simd_width == (512 if _cpu_has_avx512() else 0)
    assert portable.simd_width == 0
    assert np.abs(fast.predict(x) - booster.inplace_predict(x)).max() <= 1e-6
    x[rng.random(x.shape) < 0.01] = np.inf  # a request's values are finite; the kernel's may not be
    x[rng.random(x.shape) < 0.01] = -np.inf
    for n in (1, 2, 15, 16, 17, 31, 33, 48, 64, 80, 100, 127, 128, 129, 1000, 4000):  # 1 to 8 chunks
        a, b = fast.predict(x[:n]), portable.predict(x[:n])
        assert np.array_equal(a.view(np.uint32), b.view(np.uint32)), n


def test_served_model_uses_the_compiled_kernel(bundles: tuple[Path, Path]) -> None:
    m = load_model(bundles[0], generation=0)
    assert m.scorer_name == "compiled"
    assert isinstance(m.scorer, treeeval.CompiledForest)


def test_without_the_kernel_the_numpy_forest_serves_small_batches(
    bundles: tuple[Path, Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setenv("FOREST_KERNEL_DIR", str(tmp_path))  # nothing built there
    with caplog.at_level(logging.INFO, logger="flightdelay.api"):
        m = load_model(bundles[0], generation=0)
    assert (m.scorer_name, m.scorer_rows) == ("numpy", SMALL_BATCH)
    assert "make kernel" in caplog.text


def test_a_scorer_that_disagrees_with_xgboost_is_not_used(
    bundles: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    real = treeeval.CompiledForest.predict
    monkeypatch.setattr(treeeval.CompiledForest, "predict", lambda self, x: real(self, x) + 1e-3)
    with caplog.at_level(logging.WARNING, logger="flightdelay.api"):
        m = load_model(bundles[0], generation=0)
    assert m.scorer_name == "numpy"
    assert "compiled forest differs from XGBoost" in caplog.text


def test_other_objectives_are_left_to_xgboost() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 4)).astype(np.float32)
    booster = xgb.train({"objective": "reg:squarederror"}, xgb.DMatrix(x, label=x[:, 0]), 3)
    assert treeeval.from_booster(booster) is None


def test_kernel_build_is_keyed_by_its_source_and_explains_a_missing_compiler(tmp_path: Path) -> None:
    built = ckernel.build(tmp_path)
    assert built.name.startswith("_forest-") and built.is_file()
    assert ckernel.load(tmp_path) is not None
    assert ckernel.build(tmp_path) == built  # already built: a no-op
    with pytest.raises(ckernel.KernelBuildError, match=r"no C compiler 'no-such-cc'.*install gcc"):
        ckernel.build(tmp_path / "other", cc="no-such-cc")
    assert ckernel.load(tmp_path / "other") is None


def test_the_row_check_is_keyed_by_its_source_and_interpreter_and_explains_what_is_missing(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    stale = [tmp_path / "_rows-0123456789abcdef.so", tmp_path / "_forest-0123456789abcdef.so"]
    for path in stale:
        path.write_bytes(b"an earlier build")
    built = ckernel.build_rows(tmp_path)
    assert built.name.startswith("_rows-") and built == ckernel.rows_library_path(tmp_path)
    assert not stale[0].exists() and stale[1].exists()  # its own stale builds go, the kernel's stay
    assert ckernel.load_rows(tmp_path) is not None
    assert ckernel.build_rows(tmp_path) == built  # already built: a no-op
    with pytest.raises(ckernel.KernelBuildError, match=r"no C compiler 'no-such-cc'.*install gcc"):
        ckernel.build_rows(tmp_path / "other", cc="no-such-cc")
    assert ckernel.load_rows(tmp_path / "other") is None  # batches are then checked in Python
    monkeypatch.setattr(ckernel.sysconfig, "get_paths", lambda: {"include": str(tmp_path / "none")})
    with pytest.raises(ckernel.HeadersMissingError, match=r"no Python\.h in .*python3\.11-dev"):
        ckernel.build_rows(tmp_path / "headless")
    # `make kernel` still builds the scoring kernel, warns, and succeeds: serving checks in Python
    assert ckernel.main(["--dir", str(tmp_path / "headless")]) == 0
    assert ckernel.library_path(tmp_path / "headless").is_file()
    assert "ckernel: warning: no Python.h" in capsys.readouterr().err
    ckernel.rows_library_path(tmp_path / "bad").parent.mkdir()
    ckernel.rows_library_path(tmp_path / "bad").write_bytes(b"not an ELF file")
    with caplog.at_level(logging.WARNING, logger="flightdelay.api"):
        assert ckernel.load_rows(tmp_path / "bad") is None
    assert "ignoring the C row check" in caplog.text


def test_an_unloadable_kernel_file_is_ignored(
    bundles: tuple[Path, Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    ckernel.library_path(tmp_path).write_bytes(b"not an ELF file")
    monkeypatch.setenv("FOREST_KERNEL_DIR", str(tmp_path))
    with caplog.at_level(logging.WARNING, logger="flightdelay.api"):
        m = load_model(bundles[0], generation=0)
    assert m.scorer_name == "numpy"
    assert "ignoring the C kernel" in caplog.text


def test_kernel_build_reports_compiler_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    broken = tmp_path / "forest.c"
    broken.write_text("this is not C\n")
    monkeypatch.setattr(ckernel, "SOURCE", broken)
    with pytest.raises(ckernel.KernelBuildError, match=r"could not build forest\.c"):
        ckernel.build(tmp_path / "out")
    assert not list((tmp_path / "out").iterdir())  # no half-written library left behind
