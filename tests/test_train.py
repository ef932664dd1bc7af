"""The one training loop: history, summaries, resume after an interruption, failure on a non-finite loss."""

from __future__ import annotations

import re

import pytest
import torch

from conftest import sweep_config, tiny_train
from latentlab.data import Split
from latentlab.models import build_model
from latentlab.models.base import Trainable
from latentlab.resume import ResumeFile
from latentlab.train import DivergenceError, RunningMeans, evaluate, fit, summarize

CPU = torch.device("cpu")


@pytest.fixture
def splits(mnist_test_images) -> dict[str, Split]:
    images, labels = mnist_test_images
    pixels = (images * 255).round().to(torch.uint8)
    return {"train": Split(pixels[:256], labels[:256]), "validation": Split(pixels[256:320], labels[256:320]),
            "test": Split(pixels[320:384], labels[320:384])}


def scored(splits: dict[str, Split]) -> dict[str, Split]:
    return {"validation": splits["validation"], "test": splits["test"]}


def vqvae() -> Trainable:
    return build_model("vqvae", sweep_config("vqvae", 8))


def test_fit_returns_one_record_per_epoch(splits):
    logged = []
    history = fit(vqvae(), splits["train"], scored(splits), tiny_train(epochs=3), device=CPU, title="t",
                  log=logged.append)
    assert len(history) == 3 and logged == history
    assert {"train/loss", "train/recon", "train/commitment", "validation/loss", "validation/mse", "test/loss",
            "test/mse", "test/recon_nll", "epoch_seconds"} <= set(history[0])
    assert history[-1]["test/loss"] < history[0]["test/loss"]
    for record in history:  # the loss is the sum of its named terms
        assert record["train/loss"] == pytest.approx(record["train/recon"] + record["train/commitment"], rel=1e-5)


def test_scored_splits_hold_the_final_models_means(splits):
    model = vqvae()
    history = fit(model, splits["train"], scored(splits), tiny_train(epochs=1), device=CPU, title="t")
    again = evaluate(model, splits["test"], CPU)
    assert history[-1]["test/loss"] == pytest.approx(again["loss"]) and history[-1]["test/mse"] == pytest.approx(again["mse"])


def test_a_split_scored_at_end_appears_in_the_last_epoch_only(splits):
    model = vqvae()
    history = fit(model, splits["train"], {"validation": splits["validation"]}, tiny_train(epochs=2), device=CPU,
                  title="t", scored_at_end={"test": splits["test"]})
    assert not any(key.startswith("test/") for key in history[0]) and "validation/loss" in history[0]
    again = evaluate(model, splits["test"], CPU)
    assert history[-1]["test/loss"] == pytest.approx(again["loss"]) and history[-1]["test/mse"] == pytest.approx(again["mse"])
    assert summarize(history)["test"]["mse"] == history[-1]["test/mse"]


def test_running_means_weigh_each_batch_by_its_size():
    means = RunningMeans()
    means.add({"loss": torch.tensor(1.0)}, weight=3)
    means.add({"loss": torch.tensor(3.0)}, weight=1)
    assert means.means() == {"loss": 1.5}


def test_summarize_keeps_the_final_epoch_and_the_best_validation_epoch():
    history = [{"train/loss": 5.0, "validation/loss": 4.0, "test/mse": 0.3, "epoch_seconds": 9.0},
               {"train/loss": 3.0, "validation/loss": 2.0, "test/mse": 0.2, "epoch_seconds": 8.0},
               {"train/loss": 2.0, "validation/loss": 2.5, "test/mse": 0.1, "epoch_seconds": 7.0}]
    assert summarize(history) == {"epochs": 3, "best_validation_epoch": 2, "train": {"loss": 2.0},
                                  "validation": {"loss": 2.5}, "test": {"mse": 0.1}}  # no timings


class Interrupt(Exception):
    pass


def stop_after_first_epoch(metrics: dict) -> None:
    raise Interrupt


def test_an_interrupted_run_resumes_to_the_same_result(splits, tmp_path):
    cfg = tiny_train(epochs=3)
    torch.manual_seed(0)
    straight = vqvae()
    expected = fit(straight, splits["train"], scored(splits), cfg, device=CPU, title="t")

    resume = ResumeFile(tmp_path / "state.pt", {"run": "a"})
    torch.manual_seed(0)
    with pytest.raises(Interrupt):
        fit(vqvae(), splits["train"], scored(splits), cfg, device=CPU, title="t", log=stop_after_first_epoch,
            resume=resume)
    assert resume.path.is_file() and len(resume.load()["history"]) == 1

    torch.manual_seed(123)  # the resumed process starts from another seed state: the state file restores it
    resumed = vqvae()
    replayed = []
    history = fit(resumed, splits["train"], scored(splits), cfg, device=CPU, title="t", log=replayed.append,
                  resume=resume)
    assert len(resume.load()["history"]) == 3  # kept until the stage's outputs are written (the caller clears it)
    assert replayed == history and len(history) == 3
    assert [h["test/loss"] for h in history] == [h["test/loss"] for h in expected]
    for key, value in straight.state_dict().items():
        assert torch.equal(value, resumed.state_dict()[key]), key


def test_a_finished_state_resumes_without_a_step(splits, tmp_path):
    """After the last epoch the state stays: a rerun (killed before the checkpoint) trains nothing again."""
    cfg = tiny_train(epochs=2)
    resume = ResumeFile(tmp_path / "state.pt", {"run": "a"})
    torch.manual_seed(0)
    first = vqvae()
    expected = fit(first, splits["train"], scored(splits), cfg, device=CPU, title="t", resume=resume)
    steps = []
    again = vqvae()
    again.register_forward_pre_hook(lambda module, inputs: steps.append(module.training) if module.training else None)
    history = fit(again, splits["train"], scored(splits), cfg, device=CPU, title="t", resume=resume)
    assert steps == [] and history == expected
    for key, value in first.state_dict().items():
        assert torch.equal(value, again.state_dict()[key]), key


def test_the_resume_state_keeps_the_rng_of_the_device(splits, tmp_path, device):
    """On CUDA the state also holds the CUDA generators, so a resumed run draws what the straight run would."""
    resume = ResumeFile(tmp_path / "state.pt", {"run": "a"})
    with pytest.raises(Interrupt):
        fit(vqvae(), splits["train"], scored(splits), tiny_train(epochs=2), device=device, title="t",
            log=stop_after_first_epoch, resume=resume)
    rng = resume.load()["rng"]
    assert torch.equal(rng["cpu"], torch.get_rng_state())
    if device.type == "cuda":
        states = torch.cuda.get_rng_state_all()
        assert len(rng["cuda"]) == len(states) and all(torch.equal(a, b) for a, b in zip(rng["cuda"], states, strict=True))
    else:
        assert set(rng) == {"cpu"}


def test_fit_on_a_device_follows_the_cpu_run(splits, device):
    """An AE draws nothing during training (the shuffle is on the CPU): the same losses on every device."""
    model = build_model("ae", sweep_config("ae"))
    expected = fit(model, splits["train"], scored(splits), tiny_train(epochs=1), device=CPU, title="t")
    torch.manual_seed(0)
    on_device = build_model("ae", sweep_config("ae"))
    history = fit(on_device, splits["train"], scored(splits), tiny_train(epochs=1), device=device, title="t")
    assert next(on_device.parameters()).device.type == device.type
    for key in ("train/loss", "validation/loss", "test/mse"):
        assert history[0][key] == pytest.approx(expected[0][key], rel=1e-3)


class Diverging(Trainable):
    def __init__(self) -> None:
        super().__init__()
        self.w = torch.nn.Parameter(torch.ones(()))

    def losses(self, batch):
        return {"recon": self.w * float("nan")}


def test_a_non_finite_loss_names_the_learning_rate_to_lower(splits):
    with pytest.raises(DivergenceError, match=re.escape("in epoch 1 of t (loss nan, recon nan); lower "
                                                        "prior_top.train.lr (now 0.003) and run `dvc repro` again")):
        fit(Diverging(), splits["train"], scored(splits), tiny_train(), device=CPU, title="t",
            budget_key="prior_top.train")


def test_progress_prints_one_plain_line_per_epoch_when_not_a_terminal(splits, capsys):
    fit(vqvae(), splits["train"], scored(splits), tiny_train(epochs=2), device=CPU, title="vqvae-8")
    lines = capsys.readouterr().out.splitlines()
    assert [line.split("  ")[0] for line in lines] == ["vqvae-8 epoch 1/2", "vqvae-8 epoch 2/2"]
    assert all("test/loss" in line and "eta" in line for line in lines)
