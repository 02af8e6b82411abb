"""Watching the agent: `rlgraph eval --video` and EvalEpisodes' videos, through the acting
path, with clear errors for what cannot be written or rendered."""

from __future__ import annotations

import re

import pytest
from workflow_nodes import small_dqn

from rlgraph.cli import main

pytest.importorskip("imageio_ffmpeg", reason="the video extra: pip install -e '.[video]'")
pytest.importorskip("pygame", reason="the video extra: pip install -e '.[video]'")


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("video")
    out = tmp / "run"
    assert main(["run", str(small_dqn(tmp)), "--steps", "200", "--quiet",
                 "--no-tensorboard", "--out", str(out)]) == 0
    return out


def frames(path):
    import imageio.v2 as imageio
    reader = imageio.get_reader(path)
    try:
        return [frame for frame in reader]
    finally:
        reader.close()


def test_eval_records_the_evaluated_episodes_frame_by_frame(trained, tmp_path, capsys):
    video = tmp_path / "agent.mp4"
    assert main(["eval", str(trained), "--episodes", "3", "--video", str(video),
                 "--video-episodes", "2"]) == 0
    text = capsys.readouterr().out
    lengths = [int(float(r)) for r in re.search(r"returns: (.*)", text).group(1).split()]
    recorded = re.search(r"wrote .*agent.mp4: 2 episodes \(returns (.*)\)", text).group(1)
    # the same seeded greedy episodes as the evaluation's first two (CartPole: +1 a step)
    assert [int(r) for r in recorded.split()] == lengths[:2]
    shot = frames(video)
    assert len(shot) == lengths[0] + 1 + lengths[1] + 1  # each: the reset, then every step
    assert shot[0].shape == (400, 600, 3) and shot[0].std() > 0  # a drawn cart, not blank


def test_a_gif_too_and_a_wrong_suffix_is_refused_before_anything_runs(trained, tmp_path,
                                                                     capsys):
    assert main(["eval", str(trained), "--episodes", "1", "--video",
                 str(tmp_path / "a.gif")]) == 0
    assert (tmp_path / "a.gif").read_bytes()[:6] == b"GIF89a"
    capsys.readouterr()
    assert main(["eval", str(trained), "--video", str(tmp_path / "a.avi")]) == 1
    err = capsys.readouterr().err
    assert "a.avi: error: a video is an .mp4 or a .gif file" in err and "dqn_target" not in err


def test_a_missing_renderer_names_the_extra_to_install(trained, tmp_path, capsys,
                                                       monkeypatch):
    import gymnasium as gym
    from gymnasium.envs.classic_control import cartpole

    def no_pygame(self):
        raise gym.error.DependencyNotInstalled('pygame is not installed, run `pip install '
                                               '"gymnasium[classic-control]"`')
    monkeypatch.setattr(cartpole.CartPoleEnv, "render", no_pygame)
    assert main(["eval", str(trained), "--episodes", "1", "--video",
                 str(tmp_path / "a.mp4")]) == 1
    err = capsys.readouterr().err
    assert "cannot render 'CartPole-v1': pygame is not installed" in err
    assert 'pip install -e ".[video]"' in err


def test_a_missing_writer_names_the_extra_to_install(trained, tmp_path, capsys, monkeypatch):
    import importlib.util
    find = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "imageio_ffmpeg" else find(name, *a))
    assert main(["eval", str(trained), "--video", str(tmp_path / "a.mp4")]) == 1
    err = capsys.readouterr().err
    assert "writing .mp4 videos needs imageio-ffmpeg, which is not installed" in err
    assert 'pip install -e ".[video]"' in err


def test_eval_episodes_records_one_episode_per_evaluation_into_the_run_folder(tmp_path):
    graph = small_dqn(tmp_path, """
  eval:
    type: EvalEpisodes
    every: 100
    after: 100
    params: {episodes: 2, video: gif}
    in: {spec: env.spec}
    order: {after: [sample]}
""")
    out = tmp_path / "run"
    assert main(["run", str(graph), "--steps", "250", "--quiet", "--no-tensorboard",
                 "--out", str(out)]) == 0
    videos = sorted(p.name for p in (out / "videos").iterdir())
    assert videos == ["eval-000000100.gif", "eval-000000200.gif"]


def test_eval_episodes_video_outside_a_run_is_a_clear_error(tmp_path):
    from rlgraph.core import GraphErrors, build
    graph = build(small_dqn(tmp_path, """
  eval:
    type: EvalEpisodes
    every: 2
    params: {episodes: 1, video: mp4}
    in: {spec: env.spec}
    order: {after: [sample]}
"""))
    with graph, pytest.raises(GraphErrors, match="video needs a run folder"):
        graph.run(2)
