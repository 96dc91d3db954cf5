"""Real input images that ship inside installed packages, with deterministic augmentation.

Sources (no downloads): ``skimage.data`` photos and its LFW face subset (100 real faces,
25 x 25 grey), ``sklearn.datasets`` sample images (china, flower), matplotlib's sample
``grace_hopper.jpg``. :func:`image_samples` draws ``n`` samples from one of the sets below
with a seeded augmentation (square crop of 50-100 % of the short side, horizontal flip,
brightness x0.25-1.2: darkening stands in for the paper's low-light inputs) and resizes
them to the model's input. The same ``(set, n, size, seed)`` always gives the same
pixels and the same sample ids.

Sets: ``photos`` (natural photos), ``faces`` (LFW faces), ``mixed`` (alternating faces
and photos), ``people`` (photos with a person: astronaut, camera, grace_hopper, plus LFW
faces), ``eyes`` (eye-region crops of LFW faces and of the portrait photos).
"""

from __future__ import annotations

import numpy as np

__all__ = ["SETS", "image_samples", "lfw_faces", "photos", "to_float"]

SETS = ("photos", "faces", "mixed", "people", "eyes")
# skimage.data loaders of natural photos that ship in the scikit-image wheel
SKIMAGE_PHOTOS = ("astronaut", "camera", "chelsea", "coffee", "coins", "hubble_deep_field",
                  "immunohistochemistry", "stereo_motorcycle", "retina", "rocket", "moon",
                  "brick", "grass", "gravel", "clock")
PEOPLE = ("astronaut", "camera", "grace_hopper")
# eye boxes (top, left, size) in the portrait photos, by eye, for the ``eyes`` set
EYE_BOXES = {"astronaut": ((77, 181, 40), (77, 232, 40)),
             "grace_hopper": ((159, 161, 70), (159, 255, 70))}


def _rgb(img: np.ndarray) -> np.ndarray:
    """Any skimage/PIL image -> uint8 ``[H, W, 3]``."""
    a = np.asarray(img)
    if a.dtype == bool:
        a = a.astype(np.uint8) * 255
    elif a.dtype != np.uint8:
        a = a.astype(np.float64)
        lo, hi = float(a.min()), float(a.max())
        a = np.round(255 * (a - lo) / (hi - lo if hi > lo else 1)).astype(np.uint8)
    if a.ndim == 2:
        a = np.repeat(a[:, :, None], 3, axis=2)
    return np.ascontiguousarray(a[:, :, :3])


def photos() -> dict[str, np.ndarray]:
    """Named natural photos, uint8 RGB, in a fixed order."""
    import matplotlib.cbook
    import skimage.data
    from PIL import Image
    from sklearn.datasets import load_sample_images

    out = {}
    for name in SKIMAGE_PHOTOS:
        img = getattr(skimage.data, name)()
        out[name] = _rgb(img[0] if name == "stereo_motorcycle" else img)   # left view
    sk = load_sample_images()
    for fname, img in zip(sk.filenames, sk.images):
        out[fname.rsplit("/", 1)[-1].split(".")[0]] = _rgb(img)
    with matplotlib.cbook.get_sample_data("grace_hopper.jpg") as fh:
        out["grace_hopper"] = _rgb(Image.open(fh).convert("RGB"))
    return out


def lfw_faces() -> list[np.ndarray]:
    """The 100 real LFW faces of ``skimage.data.lfw_subset`` (25 x 25), uint8 RGB."""
    import skimage.data

    return [_rgb(f * 255.0 if f.max() <= 1 else f) for f in skimage.data.lfw_subset()[:100]]


def _resize(img: np.ndarray, size: int) -> np.ndarray:
    from PIL import Image

    return np.asarray(Image.fromarray(img).resize((size, size), Image.BILINEAR))


def _augment(img: np.ndarray, rng: np.random.Generator, size: int, crop=(0.5, 1.0)):
    h, w, _ = img.shape
    side = max(1, int(min(h, w) * rng.uniform(*crop)))
    top = int(rng.integers(0, h - side + 1))
    left = int(rng.integers(0, w - side + 1))
    flip = bool(rng.integers(0, 2))
    bright = float(rng.uniform(0.25, 1.2))
    a = img[top:top + side, left:left + side]
    if flip:
        a = a[:, ::-1]
    a = _resize(np.ascontiguousarray(a), size).astype(np.float64) * bright
    desc = f"crop{side}@{top},{left}{'-flip' if flip else ''}-b{bright:.2f}"
    return np.clip(np.round(a), 0, 255).astype(np.uint8), desc


def _pool(kind: str) -> list[tuple[str, np.ndarray, tuple[float, float]]]:
    """Base images ``(name, image, crop range)`` of one set."""
    if kind not in SETS:
        raise ValueError(f"image_samples: unknown set {kind!r} (expected one of {SETS})")
    faces = [(f"lfw{i:03d}", f, (0.8, 1.0)) for i, f in enumerate(lfw_faces())]
    if kind == "faces":
        return faces
    ph = photos()
    if kind == "photos":
        return [(k, v, (0.5, 1.0)) for k, v in ph.items()]
    if kind == "mixed":
        pv = [(k, v, (0.5, 1.0)) for k, v in ph.items()]
        return [x for pair in zip(faces, pv * 10) for x in pair]
    if kind == "people":
        return [(k, ph[k], (0.5, 1.0)) for k in PEOPLE] + faces
    eyes = []      # the four sharp portrait eyes first, then the blurry 25 x 25 LFW ones
    for k, boxes in EYE_BOXES.items():
        for j, (t, left, s) in enumerate(boxes):
            eyes.append((f"{k}eye{j}", ph[k][t:t + s, left:left + s], (0.7, 1.0)))
    for i, f in enumerate(lfw_faces()):
        eyes += [(f"lfw{i:03d}eyeL", f[6:14, 3:13], (0.9, 1.0)),
                 (f"lfw{i:03d}eyeR", f[6:14, 12:22], (0.9, 1.0))]
    return eyes


def image_samples(kind: str, n: int, size: int, seed: int = 0) -> list[tuple[str, np.ndarray]]:
    """``n`` augmented samples ``(id, uint8 [size, size, 3])`` from set ``kind``.

    Base images are visited round-robin; every sample gets its own augmentation drawn
    from ``numpy.random.default_rng([seed, index])``. Ids name the base image, the index
    and the augmentation.
    """
    pool = _pool(kind)
    out = []
    for i in range(n):
        name, img, crop = pool[i % len(pool)]
        rng = np.random.default_rng([seed, i])
        a, desc = _augment(img, rng, size, crop)
        out.append((f"{i:03d}:{name}:{desc}", a))
    return out


def to_float(img: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """uint8 image -> float32 ``[1, H, W, 3]`` in ``[lo, hi]`` (the model's input range)."""
    return (lo + (hi - lo) * img.astype(np.float32) / 255.0)[None].astype(np.float32)
