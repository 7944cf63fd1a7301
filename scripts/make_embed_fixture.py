"""Builds the PyTorch fixture of cnn-runtime/src/embed/pytorch_tests.rs.

The embedding losses of `cnn_runtime::embed`, written here in PyTorch from
their definitions (PyTorch has no built-in online mining), on small seeded
batches, with the value and the autograd gradient with respect to the
embeddings, computed in float64 from the float32 inputs:

  triplet       max(d(A, P) - d(A, N) + margin, 0), mean over the mined
                triplets, the triplets mined in the batch from the
                distance matrix (detached) by
                  all        every (a, p, n): a != p of one identity, n of another
                  batch_hard per anchor, the furthest positive and the
                             closest negative (the first of equals)
                  semi_hard  per (a, p), the closest negative with
                             d(a, n) > d(a, p); if none, the furthest negative
                on the squared and on the plain Euclidean distance, on two
                batches: 12 embeddings of 5 values, 4 identities x 3, in a
                shuffled order; and 10 embeddings with one identity seen once
                (an anchor with no positive) and one seen four times
  contrastive   y d^2 + (1 - y) max(margin - d, 0)^2, mean over the pairs
                (2i, 2i + 1), d Euclidean
  siamese       binary_cross_entropy_with_logits of
                sum_k w_k |a_k - b_k| + b against the pair labels, with the
                gradients for the embeddings, w and b

Each case `c` is stored as tensors named
  c/embeddings  [n, d]
  c/target      identities (triplet) or pair labels, as float32
  c/params      triplet: [margin, mining (0 all, 1 batch_hard,
                2 semi_hard), distance (0 squared, 1 Euclidean)];
                contrastive: [margin]; siamese: [w..., b]
  c/triplets    triplet cases: [T, 3] (anchor, positive, negative), the
                mined triplets in order of anchor, positive, negative
  c/loss        [1]
  c/grad        [n, d], the gradient of the loss for the embeddings
  c/grad_params siamese: the gradient for [w..., b]

Run from the repository root:
  /root/.venvs/torch/bin/python scripts/make_embed_fixture.py
It writes tests/fixtures/embed/embed.safetensors; the Rust test reads only
that file.
"""

from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors.torch import save_file

torch.manual_seed(20240925)
tensors = {}
MININGS = {"all": 0, "batch_hard": 1, "semi_hard": 2}


def pair_distance(e, i, j, euclid):
    sq = ((e[i] - e[j]) ** 2).sum()
    return sq.sqrt() if euclid else sq


def mine(d, ids, mining):
    """The triplets of `mining` from the (detached) distance matrix `d`."""
    n = len(ids)
    out = []
    for a in range(n):
        pos = [p for p in range(n) if p != a and ids[p] == ids[a]]
        neg = [q for q in range(n) if ids[q] != ids[a]]
        if mining == "all":
            out += [(a, p, q) for p in pos for q in neg]
        elif mining == "batch_hard":
            if pos and neg:
                # max/min return the first of equals, as the Rust code does.
                out.append((a, max(pos, key=lambda p: d[a, p]), min(neg, key=lambda q: d[a, q])))
        else:
            for p in pos:
                if not neg:
                    continue
                further = [q for q in neg if d[a, q] > d[a, p]]
                q = min(further, key=lambda q: d[a, q]) if further else max(neg, key=lambda q: d[a, q])
                out.append((a, p, q))
    return out


def triplet_case(name, emb, ids, margin, mining, euclid):
    emb = emb.to(torch.float32)
    e = emb.to(torch.float64).requires_grad_(True)
    with torch.no_grad():
        diff = e[:, None, :] - e[None, :, :]
        d = (diff ** 2).sum(-1)
        if euclid:
            d = d.sqrt()
    triplets = mine(d, ids, mining)
    hinges = torch.stack([
        F.relu(pair_distance(e, a, p, euclid) - pair_distance(e, a, q, euclid) + margin)
        for a, p, q in triplets
    ])
    loss = hinges.mean()
    loss.backward()
    # Kinds of semi-hard picks, to see that the batch exercises each.
    kinds = {"active": int((hinges > 0).sum()), "triplets": len(triplets)}
    if mining == "semi_hard":
        kinds["fallback"] = sum(1 for a, p, q in triplets if d[a, q] <= d[a, p])
    tensors[f"{name}/embeddings"] = emb.clone()
    tensors[f"{name}/target"] = torch.tensor(ids, dtype=torch.float32)
    tensors[f"{name}/params"] = torch.tensor(
        [margin, MININGS[mining], 1.0 if euclid else 0.0], dtype=torch.float32)
    tensors[f"{name}/triplets"] = torch.tensor(triplets, dtype=torch.float32)
    tensors[f"{name}/loss"] = loss.detach().reshape(1).to(torch.float32)
    tensors[f"{name}/grad"] = e.grad.to(torch.float32).contiguous()
    print(f"{name:28} loss {loss.item():.6g} {kinds}")


def contrastive_case(name, emb, labels, margin):
    emb = emb.to(torch.float32)
    y = torch.tensor(labels, dtype=torch.float64)
    e = emb.to(torch.float64).requires_grad_(True)
    d = ((e[0::2] - e[1::2]) ** 2).sum(-1).sqrt()
    loss = (y * d ** 2 + (1 - y) * F.relu(margin - d) ** 2).mean()
    loss.backward()
    inside = int(((1 - y) * (margin - d.detach() > 0)).sum())
    tensors[f"{name}/embeddings"] = emb.clone()
    tensors[f"{name}/target"] = y.to(torch.float32)
    tensors[f"{name}/params"] = torch.tensor([margin], dtype=torch.float32)
    tensors[f"{name}/loss"] = loss.detach().reshape(1).to(torch.float32)
    tensors[f"{name}/grad"] = e.grad.to(torch.float32).contiguous()
    print(f"{name:28} loss {loss.item():.6g} different pairs inside the margin: {inside}")


def siamese_case(name, emb, labels, w, b):
    emb, w, b = emb.to(torch.float32), w.to(torch.float32), b.to(torch.float32)
    e = emb.to(torch.float64).requires_grad_(True)
    params = torch.cat([w, b.reshape(1)]).to(torch.float64).requires_grad_(True)
    z = ((e[0::2] - e[1::2]).abs() * params[:-1]).sum(-1) + params[-1]
    y = torch.tensor(labels, dtype=torch.float64)
    loss = F.binary_cross_entropy_with_logits(z, y)
    loss.backward()
    tensors[f"{name}/embeddings"] = emb.clone()
    tensors[f"{name}/target"] = y.to(torch.float32)
    tensors[f"{name}/params"] = params.detach().to(torch.float32)
    tensors[f"{name}/loss"] = loss.detach().reshape(1).to(torch.float32)
    tensors[f"{name}/grad"] = e.grad.to(torch.float32).contiguous()
    tensors[f"{name}/grad_params"] = params.grad.to(torch.float32)
    print(f"{name:28} loss {loss.item():.6g}")


# Batch 1: 4 identities x 3, shuffled; centres close enough that the
# identities overlap, so some triplets are active and some are not.
ids1 = [2, 0, 3, 1, 0, 2, 1, 3, 3, 0, 2, 1]
centres = torch.randn(4, 5) * 0.5
emb1 = torch.stack([centres[i] for i in ids1]) + torch.randn(12, 5) * 0.4
# Batch 2: identity 5 once (no positive), identity 1 four times, and the
# second image of identity 7 an outlier, further from the first than every
# negative is: semi-hard mining falls back to the furthest negative there.
ids2 = [1, 4, 1, 5, 4, 7, 1, 7, 4, 1]
centres2 = {i: torch.randn(5) * 0.5 for i in sorted(set(ids2))}
emb2 = torch.stack([centres2[i] for i in ids2]) + torch.randn(10, 5) * 0.4
emb2[7] += torch.tensor([3.0, -2.0, 0.0, 1.0, 0.0])

for batch, emb, ids in [("b1", emb1, ids1), ("b2", emb2, ids2)]:
    for mining in MININGS:
        for euclid, margin in [(False, 0.5), (True, 0.3)]:
            suffix = "euclid" if euclid else "sq"
            triplet_case(f"triplet_{mining}_{suffix}_{batch}", emb, ids, margin, mining, euclid)

pairs = [1, 0, 0, 1, 0, 0]
contrastive_case("contrastive", emb1, pairs, 1.5)
contrastive_case("contrastive_soft", emb1, [1.0, 0.25, 0.0, 0.5, 0.0, 0.0], 1.5)
siamese_case("siamese", emb1, pairs, torch.randn(5), torch.tensor(0.3))

out = Path("tests/fixtures/embed/embed.safetensors")
out.parent.mkdir(parents=True, exist_ok=True)
save_file(tensors, str(out))
print(f"wrote {out} ({len(tensors)} tensors)")
