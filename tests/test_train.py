"""The one training loop: history, resume after an interruption, failure on a non-finite loss."""

from __future__ import annotations

import pytest
import torch

from conftest import tiny_quantizer, tiny_train, tiny_trunk
from latentlab.data import Split
from latentlab.models import build_model
from latentlab.models.base import Trainable
from latentlab.schema import to_plain
from latentlab.train import ResumeFile, fit, summarize


@pytest.fixture
def splits(mnist_test_images) -> tuple[Split, Split]:
    images, labels = mnist_test_images
    pixels = (images * 255).round().to(torch.uint8)
    return Split(pixels[:256], labels[:256]), Split(pixels[256:384], labels[256:384])


def vqvae() -> Trainable:
    config = {"image_shape": [1, 28, 28], "latent": 8, "trunk": to_plain(tiny_trunk()),
              "bottleneck": to_plain(tiny_quantizer())}
    return build_model("vqvae", config)


def test_fit_returns_one_record_per_epoch(splits):
    train, test = splits
    logged = []
    history = fit(vqvae(), train, test, tiny_train(epochs=3), device=torch.device("cpu"), title="t", log=logged.append)
    assert len(history) == 3 and logged == history
    assert {"train/loss", "train/recon", "train/commitment", "test/loss", "test/mse", "epoch_seconds"} <= set(history[0])
    assert history[-1]["test/loss"] < history[0]["test/loss"]
    summary = summarize(history)
    assert summary["epochs"] == 3 and summary["test"]["best_loss"] == min(h["test/loss"] for h in history)


class Interrupt(Exception):
    pass


def test_an_interrupted_run_resumes_to_the_same_result(splits, tmp_path):
    train, test = splits
    cfg = tiny_train(epochs=3)
    cpu = torch.device("cpu")

    torch.manual_seed(0)
    straight = vqvae()
    expected = fit(straight, train, test, cfg, device=cpu, title="t")

    def stop_after_first_epoch(metrics: dict) -> None:
        raise Interrupt

    resume = ResumeFile(tmp_path / "state.pt", {"run": "a"})
    torch.manual_seed(0)
    with pytest.raises(Interrupt):
        fit(vqvae(), train, test, cfg, device=cpu, title="t", log=stop_after_first_epoch, resume=resume)
    assert resume.path.is_file() and len(resume.load()["history"]) == 1

    torch.manual_seed(123)  # the resumed process starts from another seed state: the state file restores it
    resumed = vqvae()
    replayed = []
    history = fit(resumed, train, test, cfg, device=cpu, title="t", log=replayed.append, resume=resume)
    assert not resume.path.exists()
    assert replayed == history and len(history) == 3
    assert [h["test/loss"] for h in history] == [h["test/loss"] for h in expected]
    for key, value in straight.state_dict().items():
        assert torch.equal(value, resumed.state_dict()[key]), key


def test_a_resume_state_of_another_run_is_ignored(tmp_path):
    ResumeFile(tmp_path / "state.pt", {"lr": 1.0}).save({"history": []})
    assert ResumeFile(tmp_path / "state.pt", {"lr": 2.0}).load() is None
    assert ResumeFile(tmp_path / "state.pt", {"lr": 1.0}).load() is not None


class Diverging(Trainable):
    def __init__(self) -> None:
        super().__init__()
        self.w = torch.nn.Parameter(torch.ones(()))

    def losses(self, batch):
        return {"recon": self.w * float("nan")}


def test_a_non_finite_loss_stops_with_advice(splits):
    train, test = splits
    with pytest.raises(FloatingPointError, match="lower the learning rate"):
        fit(Diverging(), train, test, tiny_train(), device=torch.device("cpu"), title="t")


def test_progress_prints_one_plain_line_per_epoch_when_not_a_terminal(splits, capsys):
    train, test = splits
    fit(vqvae(), train, test, tiny_train(epochs=2), device=torch.device("cpu"), title="vqvae-8")
    lines = capsys.readouterr().out.splitlines()
    assert [line.split("  ")[0] for line in lines] == ["vqvae-8 epoch 1/2", "vqvae-8 epoch 2/2"]
    assert all("test/loss" in line and "eta" in line for line in lines)
