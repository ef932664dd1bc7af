"""How much of the label survives in Z: a linear probe and k-nearest neighbours on the codes."""

from __future__ import annotations

import warnings

import torch

from latentlab.data import Split
from latentlab.models import LatentModel

BATCH_SIZE = 500


@torch.no_grad()
def probe_features(model: LatentModel, data: Split, device: torch.device) -> torch.Tensor:
    """What the decoder reads for each image, flattened: z (AE), the mean (VAE), code vectors (VQ)."""
    model.eval()
    return torch.cat([model.bottleneck(model.encode(x)).flatten(1).cpu() for x, _ in data.batches(BATCH_SIZE, device=device)])


def standardize(train: torch.Tensor, test: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Both sets scaled with the training set's mean and standard deviation per feature."""
    mean, std = train.mean(0), train.std(0).clamp_min(1e-8)
    return (train - mean) / std, (test - mean) / std


def logistic_probe(train: torch.Tensor, train_labels: torch.Tensor, test: torch.Tensor, test_labels: torch.Tensor,
                   max_iter: int) -> float:
    """Test accuracy of multinomial logistic regression on standardized features (L-BFGS, max_iter steps)."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression

    train, test = standardize(train.double(), test.double())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # the budget is fixed on purpose: same for all
        classifier = LogisticRegression(max_iter=max_iter).fit(train.numpy(), train_labels.numpy())
    return float((torch.from_numpy(classifier.predict(test.numpy())) == test_labels).double().mean())


def knn_probe(train: torch.Tensor, train_labels: torch.Tensor, test: torch.Tensor, test_labels: torch.Tensor,
              k: int) -> float:
    """Test accuracy of a k-nearest-neighbour vote (Euclidean, standardized features)."""
    train, test = standardize(train.float(), test.float())
    predictions = []
    for chunk in test.split(BATCH_SIZE):
        nearest = torch.cdist(chunk, train).topk(k, largest=False).indices  # (chunk, k)
        votes = torch.nn.functional.one_hot(train_labels[nearest], int(train_labels.max()) + 1).sum(1)
        predictions.append(votes.argmax(1))  # ties go to the smaller label
    return float((torch.cat(predictions) == test_labels).double().mean())
