"""A full disk (simulated: the run folder's writes raise ENOSPC) is an error naming the
run folder, at the start of a run, in the middle and on resume; the last good
checkpoint stays usable and summary.json says failed."""

from __future__ import annotations

import errno
import json
from pathlib import Path

import pytest
from workflow_nodes import small_dqn

from rlgraph.cli import main
from rlgraph.workflow import checkpoint as ckpt
from rlgraph.workflow import runner, writers

QUIET = ["--quiet", "--no-tensorboard"]


def full(filename: object = None) -> OSError:
    return OSError(errno.ENOSPC, "No space left on device", filename)


class FullDisk:
    """Fills the disk once `armed`: checkpoints (inside torch.save, so the real
    temporary-file handling runs), CSV rows and atomic writes raise ENOSPC."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, csv: bool = True) -> None:
        self.armed = False
        self.csv = csv
        real_save, real_write, real_atomic = ckpt.torch.save, writers.RunLog.write, \
            runner.atomic_write

        def save(payload, f, *args, **kwargs):
            if self.armed:  # as torch.save fails on a full disk (seen on a 3 MB tmpfs)
                try:
                    raise full()
                except OSError:
                    raise RuntimeError(  # noqa: B904  (torch chains it by context)
                        "[enforce fail at inline_container.cc:672] . unexpected pos "
                        "982528 vs 982416")
            real_save(payload, f, *args, **kwargs)
            if payload.get("tick") == 100:  # the disk fills up after the first checkpoint
                self.armed = True

        def write(log, *args, **kwargs):
            if self.armed and self.csv:
                raise full(log.run_dir / "metrics.csv")
            real_write(log, *args, **kwargs)

        def atomic(path, text):
            if self.armed:
                raise full(path.with_name(f".{path.name}.tmp"))
            real_atomic(path, text)

        monkeypatch.setattr(ckpt.torch, "save", save)
        monkeypatch.setattr(writers.RunLog, "write", write)
        monkeypatch.setattr(runner, "atomic_write", atomic)


def test_a_disk_that_fills_up_mid_run_keeps_the_last_checkpoint_usable(
        tmp_path, monkeypatch, capsys):
    graph = small_dqn(tmp_path)
    straight = tmp_path / "straight"
    assert main(["run", str(graph), "--steps", "300", "--out", str(straight), *QUIET]) == 0
    out = tmp_path / "run"
    with monkeypatch.context() as patch:
        FullDisk(patch, csv=False)  # the checkpoint at tick 200 is the write that fails
        assert main(["run", str(graph), "--steps", "300", "--checkpoint-every", "100",
                     "--out", str(out), *QUIET]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"{out}: error: cannot write in the run folder {out}: the disk is "
                          f"full\n    hint: free some space, then `rlgraph resume {out}` "
                          f"continues from its last checkpoint, ckpt-000000100.pt"), err
    assert "Traceback" not in err
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "failed" and "No space left on device" in \
        summary["failure"]["error"]
    # the last rolling checkpoint, and the best evaluation's state from before the disk filled
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == [
        "best.pt", "ckpt-000000100.pt"]
    assert not list(out.rglob(".*.tmp"))  # no half-written file left behind
    # space freed: the run continues from its last good checkpoint, exactly
    assert main(["resume", str(out), *QUIET]) == 0
    assert (out / "metrics.csv").read_text() == (straight / "metrics.csv").read_text()


def test_csv_rows_that_cannot_be_written_end_the_run_as_failed(tmp_path, monkeypatch, capsys):
    out = tmp_path / "run"
    with monkeypatch.context() as patch:
        FullDisk(patch)
        assert main(["run", str(small_dqn(tmp_path)), "--steps", "300", "--checkpoint-every",
                     "100", "--out", str(out), *QUIET]) == 1
    err = capsys.readouterr().err
    assert f"{out}: error: cannot write in the run folder {out} (metrics.csv): the disk" in err
    assert json.loads((out / "summary.json").read_text())["status"] == "failed"


def test_a_full_disk_at_the_start_names_the_folder(tmp_path, monkeypatch, capsys):
    def draw(checked, run_dir: Path) -> None:
        raise full(run_dir / "graph.png")
    monkeypatch.setattr(runner, "draw", draw)
    out = tmp_path / "run"
    assert main(["run", str(small_dqn(tmp_path)), "--steps", "50", "--out", str(out),
                 *QUIET]) == 1
    err = capsys.readouterr().err
    assert (f"{out}: error: cannot write in the run folder {out} (graph.png): the disk is "
            f"full\n    hint: free some space, or choose another --out, and run again") in err
    assert "Traceback" not in err


def test_a_full_disk_on_resume_names_the_folder_and_keeps_the_checkpoint(
        tmp_path, monkeypatch, capsys):
    out = tmp_path / "run"
    assert main(["run", str(small_dqn(tmp_path)), "--steps", "100", "--out", str(out),
                 *QUIET]) == 0
    before = ckpt.latest(out).read_bytes()
    capsys.readouterr()
    with monkeypatch.context() as patch:
        FullDisk(patch).armed = True
        assert main(["resume", str(out), "--steps", "200", *QUIET]) == 1  # graph.yaml
        patch.setattr(runner, "atomic_write", lambda path, text: path.write_text(text))
        assert main(["resume", str(out), "--steps", "200", *QUIET]) == 1  # the CSV, tick 100
    err = capsys.readouterr().err
    assert err.count(f"{out}: error: cannot write in the run folder {out}") == 2, err
    assert "Traceback" not in err
    assert ckpt.latest(out).read_bytes() == before
    assert json.loads((out / "summary.json").read_text())["status"] == "failed"
