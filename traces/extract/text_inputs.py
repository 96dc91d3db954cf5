"""Real English text that ships offline, and text rendered to images for the OCR models.

Sources (all deterministic, no downloads):

* The Zen of Python (stdlib ``this``, PSF licence): 19 lines, unchanged since Python 2.2,
  so images rendered from it are stable across Python versions (the re-extraction test
  uses them).
* ``pydoc_data.topics`` (stdlib, PSF licence): the Python language reference help texts.
* scikit-learn dataset descriptions (``sklearn/datasets/descr/*.rst``, BSD-3), if installed.

Rendering uses the DejaVu / STIX / Computer Modern fonts that ship with matplotlib
(their licences are in matplotlib's ``fonts/ttf``) through Pillow, so only matplotlib and
Pillow are needed.
"""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

import numpy as np

__all__ = ["FONTS", "corpus_paragraphs", "font_path", "line_chunks", "render_line",
           "render_page", "zen_lines"]

# short name -> matplotlib font file
FONTS = {
    "sans": "DejaVuSans.ttf", "serif": "DejaVuSerif.ttf", "mono": "DejaVuSansMono.ttf",
    "bold": "DejaVuSans-Bold.ttf", "italic": "DejaVuSerif-Italic.ttf", "cm": "cmr10.ttf",
}


def zen_lines() -> list[str]:
    """The 19 aphorisms of the Zen of Python (stdlib ``this``), in order."""
    with contextlib.redirect_stdout(io.StringIO()):
        import this
    text = "".join(this.d.get(c, c) for c in this.s)
    return [ln for ln in text.splitlines()[2:] if ln.strip()]


def _clean(par: str) -> str:
    par = re.sub(r"[`*|_=~^]+", "", par)
    return re.sub(r"\s+", " ", par).strip()


def _prose(par: str) -> bool:
    """Keep paragraphs that read as English prose (not code, tables or headings)."""
    words = par.split()
    if len(words) < 12 or not par.isascii():
        return False
    letters = sum(ch.isalpha() for ch in par)
    return letters > 0.7 * len(par.replace(" ", "")) and not par.startswith((">>>", "..."))


def corpus_paragraphs(sklearn: bool = True) -> list[tuple[str, str]]:
    """``[(id, paragraph)]`` of English prose: pydoc topics then sklearn descriptions.

    Order is deterministic (sorted topic keys, sorted file names, paragraph order).
    ``sklearn=False``: the stdlib's pydoc topics only (what the test environment has).
    """
    from pydoc_data.topics import topics

    out = []
    for key in sorted(topics):
        pars = [_clean(p) for p in re.split(r"\n\s*\n", topics[key])]
        out += [(f"topics:{key}:{i}", p) for i, p in enumerate(pars) if _prose(p)]
    if not sklearn:
        return out
    try:
        import sklearn.datasets as skd
    except ImportError:
        return out
    for f in sorted((Path(skd.__file__).parent / "descr").glob("*.rst")):
        pars = [_clean(p) for p in re.split(r"\n\s*\n", f.read_text(encoding="utf-8"))]
        out += [(f"sklearn:{f.stem}:{i}", p) for i, p in enumerate(pars) if _prose(p)]
    return out


def line_chunks(text: str, max_chars: int) -> list[str]:
    """Greedy word wrap of ``text`` into lines of at most ``max_chars`` characters."""
    lines, cur = [], ""
    for w in text.split():
        if cur and len(cur) + 1 + len(w) > max_chars:
            lines.append(cur)
            cur = w
        else:
            cur = f"{cur} {w}" if cur else w
    if cur:
        lines.append(cur)
    return lines


def font_path(name: str) -> str:
    """Path of matplotlib's font file for a :data:`FONTS` short name."""
    import matplotlib

    if name not in FONTS:
        raise ValueError(f"font_path: unknown font {name!r} (expected one of {list(FONTS)})")
    return str(Path(matplotlib.get_data_path()) / "fonts" / "ttf" / FONTS[name])


def _font(name: str, size: int):
    from PIL import ImageFont

    return ImageFont.truetype(font_path(name), size)


def render_line(text: str, *, font: str = "sans", size: int = 32, fg: int = 20,
                bg: int = 235, margin: int = 6) -> np.ndarray:
    """One text line as a tight ``uint8 [H, W, 3]`` image (dark on light by default)."""
    from PIL import Image, ImageDraw

    f = _font(font, size)
    left, top, right, bottom = f.getbbox(text)
    w, h = right - left + 2 * margin, bottom - top + 2 * margin
    img = Image.new("RGB", (max(w, 1), max(h, 1)), (bg, bg, bg))
    ImageDraw.Draw(img).text((margin - left, margin - top), text, font=f, fill=(fg, fg, fg))
    return np.asarray(img, dtype=np.uint8).copy()


def render_page(lines: list[str], background: np.ndarray, *, font: str = "sans",
                size: int = 20, fg: tuple[int, int, int] = (10, 10, 10),
                origin: tuple[int, int] = (8, 8), spacing: float = 1.5,
                box: tuple[int, int, int] | None = (245, 245, 240)) -> np.ndarray:
    """Draw ``lines`` onto a copy of ``background`` (``uint8 [H, W, 3]``).

    ``box`` paints a solid rectangle behind each line (a label / sign), None draws the
    text straight onto the background. Lines that leave the image are clipped.
    """
    from PIL import Image, ImageDraw

    img = Image.fromarray(np.ascontiguousarray(background, dtype=np.uint8))
    d = ImageDraw.Draw(img)
    f = _font(font, size)
    x, y = origin
    for ln in lines:
        left, top, right, bottom = f.getbbox(ln)
        if box is not None:
            d.rectangle((x - 2, y - 2, x + right - left + 2, y + bottom - top + 2), fill=box)
        d.text((x - left, y - top), ln, font=f, fill=fg)
        y += int(size * spacing)
        if y >= img.height:
            break
    return np.asarray(img, dtype=np.uint8).copy()
