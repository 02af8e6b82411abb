"""The SAC and TD3 graphs: three learners in order, Polyak updates per gradient step,
delayed actor updates, stale gradients refused, exact resume."""

from __future__ import annotations

from pathlib import Path

from test_graphs_learning import assert_resumes_exactly

from rlgraph.core import build, check_graph, load, parse_graph

GRAPHS = Path(__file__).resolve().parent.parent / "graphs"
SMALL = ["actor.hidden=[32]", "critic.hidden=[32]", "sample.batch_size=32"]


def test_sac_updates_its_targets_once_per_gradient_step_inside_a_burst():
    """With 4 gradient steps per 4 ticks (`repeat: 4, every: 4`), the Polyak update
    (on: critic_optim.updated) runs once per step, not once per tick."""
    overrides = [*SMALL, "sample.repeat=4", "sample.every=4"]
    with build(load(GRAPHS / "sac_pendulum.yaml", overrides=overrides)) as graph:
        graph.run(400)
        updates = graph.nodes["critic_optim"].updates
        assert updates > 0 and updates % 4 == 0
        assert graph.nodes["target"].updates == updates
        assert graph.nodes["actor_optim"].updates == updates
        assert graph.nodes["alpha_optim"].updates == updates
        assert graph.nodes["warmup"].random_ticks == 100  # then the policy acts


#: td3_pendulum learns from tick 100 instead of 10,000 (random actions until then), in
#: bursts of 200 gradient steps at each episode's end as shipped
TD3_EARLY = [*SMALL, "policy.after=100", "sample.after=101"]


def test_td3_trains_after_each_episode_and_updates_its_actor_every_second_step():
    """Three episodes of 200 steps end at ticks 200, 400 and 600: a burst of 200 critic
    steps after each, the actor and both targets moved on every second one."""
    with build(load(GRAPHS / "td3_pendulum.yaml", overrides=TD3_EARLY)) as graph:
        graph.run(600)
        assert graph.nodes["critic_optim"].updates == 400  # the bursts at 200 and 400
        graph.step()                                       # tick 600: the third episode
        assert graph.nodes["metrics"].report()["episodes"] == 3
        assert graph.nodes["critic_optim"].updates == 600
        assert graph.nodes["actor_optim"].updates == 300
        assert graph.nodes["target_actor"].updates == 300
        assert graph.nodes["target_critic"].updates == 300
        assert graph.nodes["warmup"].random_ticks == 100


def test_an_actor_loss_built_before_the_critic_step_is_refused_at_load():
    """Built before the critic's step and differentiated after it, the actor loss would
    backpropagate through stale critic activations: with fused Adam, without an error."""
    text = (GRAPHS / "sac_pendulum.yaml").read_text()
    assert "order: {after: [critic_optim]}" in text
    spec, errors = parse_graph(text.replace("order: {after: [critic_optim]}",
                                            "order: {before: [critic_optim]}"),
                               "sac.yaml", base_dir=GRAPHS)
    errors = check_graph(spec).errors
    [error] = [e for e in errors if e.node == "actor_loss"]
    assert "builds its loss through 'critic.module', which " \
        "'critic_optim' changes before 'actor_optim' differentiates that loss" in error.message
    assert error.hint == "build it after the change: order: {after: [critic_optim]} on " \
                         "'actor_loss'"


def test_sac_resumes_exactly():
    rows = assert_resumes_exactly(GRAPHS / "sac_pendulum.yaml", tuple(SMALL), first=450,
                                  then=250, module="actor.module")
    assert len(rows) >= 3


def test_td3_resumes_exactly():
    assert_resumes_exactly(GRAPHS / "td3_pendulum.yaml", tuple(TD3_EARLY), first=450,
                           then=250, module="actor.module")
