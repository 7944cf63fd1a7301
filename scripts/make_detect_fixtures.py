"""Makes the fixtures of `cnn_runtime::detect`'s tests, in tests/fixtures/detect/:

- iou_nms.safetensors: random boxes with torchvision's `box_iou` between two
  sets, and the indices `nms` and `batched_nms` keep at IoU 0.5;
- ap.safetensors: true boxes and scored detections over 20 pictures and 5
  classes, with pycocotools' COCO figures (AP@[.50:.95], AP50, AP75, AP per
  class) and PASCAL VOC's AP per class at IoU 0.5 (all-point interpolation,
  by a port of the devkit's `voc_eval` without its `+ 1`);
- car.safetensors: the course's car-detection assignment on a random
  19x19x5x85 volume: the boxes `yolo_eval` keeps (score >= 0.6, then
  non-max suppression across classes at IoU 0.5, at most 10 boxes),
  scaled to a 720x1280 picture.

Boxes are float32 corners `(x1, y1, x2, y2)`, normalised to the picture
unless said otherwise. Seeds are fixed; each set is redrawn (next seed)
until no IoU or score lies within a small margin of a threshold, so that
float32 arithmetic on the Rust side cannot fall on the other side of one.

Run: /root/.venvs/torch/bin/python scripts/make_detect_fixtures.py
"""

import contextlib
import io
import os

import numpy as np
import torch
import torchvision
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval
from safetensors.numpy import save_file

OUT = os.path.join(os.path.dirname(__file__), "..", "tests", "fixtures", "detect")


def random_corners(rng, n, lo=0.02, hi=0.5):
    """n boxes inside the unit square, sides in lo..hi, as float32 corners."""
    wh = rng.uniform(lo, hi, size=(n, 2))
    xy = rng.uniform(0, 1, size=(n, 2)) * (1 - wh)
    return np.concatenate([xy, xy + wh], axis=1).astype(np.float32)


def iou_matrix(a, b):
    """IoU in float64 without + 1 (torchvision's formula)."""
    return torchvision.ops.box_iou(torch.from_numpy(a).double(), torch.from_numpy(b).double()).numpy()


def near(values, thresholds, margin):
    values = np.asarray(values).ravel()
    return any(np.any(np.abs(values - t) < margin) for t in thresholds)


# ---------------------------------------------------------------- IoU and NMS


def make_iou_nms():
    for seed in range(100):
        rng = np.random.default_rng(1000 + seed)
        a = random_corners(rng, 40)
        b = random_corners(rng, 30)
        # Clustered boxes, so that suppression has work to do.
        centres = random_corners(rng, 25, 0.1, 0.4)
        boxes = np.repeat(centres, 8, axis=0) + rng.normal(0, 0.03, size=(200, 4))
        boxes = np.concatenate([np.minimum(boxes[:, :2], boxes[:, 2:]), np.maximum(boxes[:, :2], boxes[:, 2:])], 1)
        boxes = boxes.astype(np.float32)
        scores = rng.uniform(0, 1, size=200).astype(np.float32)
        classes = rng.integers(0, 3, size=200)
        if near(iou_matrix(boxes, boxes), [0.5], 1e-4) or len(np.unique(scores)) < 200:
            continue
        tb = torch.from_numpy(boxes)
        ts = torch.from_numpy(scores)
        keep = torchvision.ops.nms(tb, ts, 0.5).numpy()
        keep_per_class = torchvision.ops.batched_nms(tb, ts, torch.from_numpy(classes), 0.5).numpy()
        iou = torchvision.ops.box_iou(torch.from_numpy(a), torch.from_numpy(b)).numpy()
        save_file(
            {
                "iou_a": a,
                "iou_b": b,
                "iou": iou.astype(np.float32),
                "nms_boxes": boxes,
                "nms_scores": scores,
                "nms_classes": classes.astype(np.float32),
                "nms_keep": keep.astype(np.float32),
                "nms_keep_per_class": keep_per_class.astype(np.float32),
            },
            os.path.join(OUT, "iou_nms.safetensors"),
            metadata={"seed": str(1000 + seed), "torchvision": torchvision.__version__},
        )
        print(f"iou_nms: seed {1000 + seed}, nms keeps {len(keep)} of 200, per class {len(keep_per_class)}")
        return
    raise SystemExit("no seed gave boxes away from the threshold")


# ------------------------------------------------------------------------ AP

PICTURES, CLASSES = 20, 5


def make_ap_set(rng):
    gt, dt = [], []
    for p in range(PICTURES):
        for _ in range(rng.integers(0, 7)):
            # Class 4 never has a true object; class 3 is never detected.
            c = int(rng.integers(0, 4))
            box = random_corners(rng, 1, 0.05, 0.5)[0]
            gt.append([p, c, *box])
            if c == 3:
                continue
            for _ in range(rng.integers(0, 3)):
                jitter = rng.normal(0, 0.08, size=4) * (box[2:] - box[:2]).repeat(2)
                d = box + jitter.astype(np.float32)
                d = np.concatenate([np.minimum(d[:2], d[2:]), np.maximum(d[:2], d[2:])])
                dt.append([p, c, rng.uniform(0.3, 1.0), *d])
        for _ in range(rng.integers(0, 4)):
            c = int(rng.choice([0, 1, 2, 4]))
            dt.append([p, c, rng.uniform(0.0, 0.8), *random_corners(rng, 1, 0.05, 0.5)[0]])
    return np.array(gt, np.float32), np.array(dt, np.float32)


def coco_eval(gt, dt):
    images = [{"id": p + 1, "width": 1, "height": 1} for p in range(PICTURES)]
    cats = [{"id": c + 1, "name": str(c)} for c in range(CLASSES)]
    anns = []
    for i, (p, c, x1, y1, x2, y2) in enumerate(gt.astype(np.float64)):
        w, h = x2 - x1, y2 - y1
        anns.append({"id": i + 1, "image_id": int(p) + 1, "category_id": int(c) + 1,
                     "bbox": [x1, y1, w, h], "area": w * h, "iscrowd": 0})
    coco_gt = COCO()
    coco_gt.dataset = {"images": images, "categories": cats, "annotations": anns}
    with contextlib.redirect_stdout(io.StringIO()):
        coco_gt.createIndex()
        results = [{"image_id": int(p) + 1, "category_id": int(c) + 1, "score": s,
                    "bbox": [x1, y1, x2 - x1, y2 - y1]}
                   for p, c, s, x1, y1, x2, y2 in dt.astype(np.float64)]
        coco_dt = coco_gt.loadRes(results)
        ev = COCOeval(coco_gt, coco_dt, "bbox")
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    precision = ev.eval["precision"][:, :, :, 0, 2]  # [T, R, K], area all, 100 dets
    per_class = []
    for k in range(CLASSES):
        s = precision[:, :, k]
        per_class.append(np.mean(s[s > -1]) if np.any(s > -1) else np.nan)
    return ev.stats[0], ev.stats[1], ev.stats[2], np.array(per_class)


def voc_ap(rec, prec):
    """The devkit's all-point interpolation (use_07_metric=False)."""
    mrec = np.concatenate(([0.0], rec, [1.0]))
    mpre = np.concatenate(([0.0], prec, [0.0]))
    for i in range(mpre.size - 1, 0, -1):
        mpre[i - 1] = max(mpre[i - 1], mpre[i])
    i = np.where(mrec[1:] != mrec[:-1])[0]
    return np.sum((mrec[i + 1] - mrec[i]) * mpre[i + 1])


def voc_eval(gt, dt, c, ovthresh=0.5):
    """The devkit's voc_eval for one class, IoU without + 1, no difficult."""
    R = {p: {"bbox": gt[(gt[:, 0] == p) & (gt[:, 1] == c), 2:].astype(np.float64)} for p in range(PICTURES)}
    for p in R:
        R[p]["det"] = [False] * len(R[p]["bbox"])
    npos = sum(len(r["bbox"]) for r in R.values())
    if npos == 0:
        return np.nan
    mine = dt[dt[:, 1] == c]
    order = np.argsort(-mine[:, 2], kind="mergesort")
    mine = mine[order]
    tp = np.zeros(len(mine))
    fp = np.zeros(len(mine))
    for d, row in enumerate(mine):
        r = R[int(row[0])]
        bb = row[3:].astype(np.float64)
        ovmax = -np.inf
        BBGT = r["bbox"]
        if BBGT.size > 0:
            ixmin = np.maximum(BBGT[:, 0], bb[0])
            iymin = np.maximum(BBGT[:, 1], bb[1])
            ixmax = np.minimum(BBGT[:, 2], bb[2])
            iymax = np.minimum(BBGT[:, 3], bb[3])
            iw = np.maximum(ixmax - ixmin, 0.0)
            ih = np.maximum(iymax - iymin, 0.0)
            inters = iw * ih
            uni = (bb[2] - bb[0]) * (bb[3] - bb[1]) + (BBGT[:, 2] - BBGT[:, 0]) * (BBGT[:, 3] - BBGT[:, 1]) - inters
            overlaps = inters / uni
            ovmax = np.max(overlaps)
            jmax = np.argmax(overlaps)
        if ovmax > ovthresh:
            if not r["det"][jmax]:
                tp[d] = 1.0
                r["det"][jmax] = True
            else:
                fp[d] = 1.0
        else:
            fp[d] = 1.0
    fp = np.cumsum(fp)
    tp = np.cumsum(tp)
    rec = tp / float(npos)
    prec = tp / np.maximum(tp + fp, np.finfo(np.float64).eps)
    return voc_ap(rec, prec)


def make_ap():
    thresholds = np.linspace(0.5, 0.95, 10)
    for seed in range(100):
        rng = np.random.default_rng(2000 + seed)
        gt, dt = make_ap_set(rng)
        ious = []
        for p in range(PICTURES):
            g = gt[gt[:, 0] == p][:, 2:]
            d = dt[dt[:, 0] == p][:, 3:]
            if len(g) and len(d):
                ious.append(iou_matrix(d, g).ravel())
        if near(np.concatenate(ious), thresholds, 1e-5) or len(np.unique(dt[:, 2])) < len(dt):
            continue
        ap, ap50, ap75, coco_per_class = coco_eval(gt, dt)
        voc = np.array([voc_eval(gt, dt, c) for c in range(CLASSES)])
        save_file(
            {
                "gt": gt,
                "dt": dt,
                "coco_ap": np.array([ap, ap50, ap75], np.float32),
                "coco_per_class": coco_per_class.astype(np.float32),
                "voc_per_class": voc.astype(np.float32),
            },
            os.path.join(OUT, "ap.safetensors"),
            metadata={"seed": str(2000 + seed), "pictures": str(PICTURES), "classes": str(CLASSES)},
        )
        print(f"ap: seed {2000 + seed}, {len(gt)} true boxes, {len(dt)} detections")
        print(f"  COCO AP {ap:.4f} AP50 {ap50:.4f} AP75 {ap75:.4f} per class {np.round(coco_per_class, 4)}")
        print(f"  VOC per class {np.round(voc, 4)}")
        return
    raise SystemExit("no seed gave IoUs away from the thresholds")


# ------------------------------------------------------------------------ car

# The assignment's yolo_anchors.txt: (w, h) pairs in cells of the 19x19 grid.
ANCHORS_WH_CELLS = np.array(
    [[0.57273, 0.677385], [1.87446, 2.06253], [3.33843, 5.47434], [7.88282, 3.52778], [9.77052, 9.16828]]
)
S, A, K = 19, 5, 80
IMAGE = (720.0, 1280.0)  # height, width


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def make_car():
    # Anchors normalised to the picture, (h, w), as the Rust grid takes them.
    anchors = np.stack([ANCHORS_WH_CELLS[:, 1], ANCHORS_WH_CELLS[:, 0]], 1) / S
    anchors = anchors.astype(np.float32)
    for seed in range(100):
        rng = np.random.default_rng(3000 + seed)
        # Layout [19, 19, 5, 85]: per anchor [to, tx, ty, th, tw, 80 class
        # logits], raw; the decoder applies the activations.
        v = rng.normal(0, 1, size=(S, S, A, 5 + K))
        for _ in range(14):
            row, col = rng.integers(0, S, size=2)
            c = rng.integers(0, K)
            h, w = rng.uniform(0.08, 0.4, size=2)
            strength = rng.choice([3.0, 1.5, -0.5])  # pc ~0.95, ~0.8, ~0.4
            for _ in range(rng.integers(1, 4)):
                r = int(np.clip(row + rng.integers(-1, 2), 0, S - 1))
                q = int(np.clip(col + rng.integers(-1, 2), 0, S - 1))
                a = rng.integers(0, A)
                v[r, q, a, 0] = strength + rng.normal(0, 0.3)
                v[r, q, a, 1:3] = rng.normal(0, 0.5, size=2)
                v[r, q, a, 3] = np.log(h / anchors[a, 0]) + rng.normal(0, 0.1)
                v[r, q, a, 4] = np.log(w / anchors[a, 1]) + rng.normal(0, 0.1)
                v[r, q, a, 5 + c] += 10.0
        v = v.astype(np.float32)
        x = v.astype(np.float64)

        # yolo_head, in this layout.
        rows, cols = np.meshgrid(np.arange(S), np.arange(S), indexing="ij")
        box_confidence = sigmoid(x[..., 0:1])
        bx = (cols[..., None] + sigmoid(x[..., 1])) / S
        by = (rows[..., None] + sigmoid(x[..., 2])) / S
        bh = anchors[:, 0] * np.exp(x[..., 3])
        bw = anchors[:, 1] * np.exp(x[..., 4])
        z = x[..., 5:] - x[..., 5:].max(-1, keepdims=True)
        box_class_probs = np.exp(z) / np.exp(z).sum(-1, keepdims=True)
        # yolo_boxes_to_corners: (y1, x1, y2, x2).
        boxes = np.stack([by - bh / 2, bx - bw / 2, by + bh / 2, bx + bw / 2], -1)
        # yolo_filter_boxes.
        box_scores = box_confidence * box_class_probs
        classes = box_scores.argmax(-1)
        class_scores = box_scores.max(-1)
        mask = class_scores >= 0.6
        scores, boxes, classes = class_scores[mask], boxes[mask], classes[mask]
        # scale_boxes to the picture, then yolo_non_max_suppression (across
        # classes, IoU 0.5, at most 10).
        h, w = IMAGE
        boxes = boxes * np.array([h, w, h, w])
        xyxy = boxes[:, [1, 0, 3, 2]]
        if near(class_scores, [0.6], 1e-3) or near(iou_matrix(xyxy, xyxy), [0.5], 1e-3):
            continue
        keep = torchvision.ops.nms(torch.from_numpy(xyxy), torch.from_numpy(scores), 0.5).numpy()[:10]
        if len(keep) < 10 or len(scores) - len(keep) < 3:
            continue  # the cap and the suppression must both have work
        save_file(
            {
                "volume": v,
                "anchors": anchors,
                "boxes": xyxy[keep].astype(np.float32),
                "scores": scores[keep].astype(np.float32),
                "classes": classes[keep].astype(np.float32),
            },
            os.path.join(OUT, "car.safetensors"),
            metadata={
                "seed": str(3000 + seed),
                "layout": "[19, 19, 5, 85]: per anchor [to, tx, ty, th, tw, 80 class logits], raw",
                "boxes": "x1, y1, x2, y2 in pixels of a 720x1280 picture",
            },
        )
        print(f"car: seed {3000 + seed}, {len(scores)} boxes with score >= 0.6, kept {len(keep)}")
        return
    raise SystemExit("no seed gave a usable volume")


if __name__ == "__main__":
    os.makedirs(OUT, exist_ok=True)
    make_iou_nms()
    make_ap()
    make_car()
