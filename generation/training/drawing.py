"""Drawing a portrait from its attributes: big simple shapes, one strong colour per value.

A small diffusion model learns what it can see at 64–128 px, so every attribute is a
large, consistent mark in a known place (the hair mass, the mouth curve, the background)
and every style a whole-picture palette and texture. The picture is drawn at 4× and
scaled down, for smooth edges; the style's brush marks are made at the final size, so a
dab is as big, relative to the face, at 64 px as at 128 px.
"""

from __future__ import annotations

import math

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from generation.training.attributes import PortraitAttributes

SUPERSAMPLE = 4

SKIN = {
    "pale": (250, 222, 206),
    "light": (236, 188, 150),
    "tan": (205, 148, 98),
    "brown": (150, 96, 60),
    "dark": (88, 56, 38),
}
HAIR = {
    "black": (24, 20, 20),
    "brown": (110, 62, 28),
    "blonde": (240, 205, 105),
    "red": (205, 62, 22),
    "grey": (175, 175, 178),
    "blue": (35, 85, 225),
}
IRIS = {"blue": (40, 120, 235), "green": (30, 165, 65), "brown": (95, 55, 25)}
BACKGROUND = {
    "red": (215, 45, 45),
    "orange": (240, 140, 30),
    "yellow": (245, 220, 60),
    "green": (60, 170, 70),
    "blue": (50, 100, 220),
    "purple": (130, 60, 185),
    "pink": (245, 140, 190),
    "teal": (30, 160, 160),
    "white": (240, 240, 236),
    "grey": (128, 128, 128),
}
FACE_SIZE = {"round": (0.44, 0.48), "oval": (0.38, 0.50), "long": (0.33, 0.54)}
CLOTHES = ((45, 55, 90), (90, 40, 40), (50, 80, 50), (70, 70, 70), (120, 90, 60))
HATS = ((40, 35, 30), (30, 40, 80), (110, 30, 30))
LIPS = (195, 45, 70)


def _shade(colour: tuple[int, int, int], factor: float) -> tuple[int, int, int]:
    return tuple(max(0, min(255, round(c * factor))) for c in colour)  # type: ignore[return-value]


class _Layout:
    """Where the parts of the face are, in fractions of the picture (0–1)."""

    def __init__(self, attrs: PortraitAttributes):
        self.fw, self.fh = FACE_SIZE[attrs.face_shape]
        if attrs.gender == "man":
            self.fw += 0.02  # a broader jaw
        self.cx, self.cy = 0.5, 0.50
        self.top = self.cy - self.fh / 2
        self.bottom = self.cy + self.fh / 2
        self.eye_y = self.cy - 0.02
        self.eye_dx = self.fw * 0.24
        self.eye_r = 0.05
        self.mouth_y = self.cy + self.fh * 0.28
        self.mouth_w = self.fw * 0.42
        self.hat_top = self.top - 0.16


class _Canvas:
    """Fractional coordinates onto a supersampled PIL drawing."""

    def __init__(self, image: Image.Image):
        self.image = image
        self.draw = ImageDraw.Draw(image)
        self.px = image.width

    def box(self, x0: float, y0: float, x1: float, y1: float) -> list[float]:
        return [x0 * self.px, y0 * self.px, x1 * self.px, y1 * self.px]

    def ellipse(self, cx: float, cy: float, w: float, h: float, fill, outline=None, width=0.0):
        self.draw.ellipse(
            self.box(cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2),
            fill=fill,
            outline=outline,
            width=max(1, round(width * self.px)) if outline is not None else 0,
        )

    def rect(self, x0, y0, x1, y1, fill):
        self.draw.rectangle(self.box(x0, y0, x1, y1), fill=fill)

    def line(self, points: list[tuple[float, float]], fill, width: float):
        self.draw.line(
            [(x * self.px, y * self.px) for x, y in points],
            fill=fill,
            width=max(1, round(width * self.px)),
            joint="curve",
        )

    def polygon(self, points: list[tuple[float, float]], fill):
        self.draw.polygon([(x * self.px, y * self.px) for x, y in points], fill=fill)

    def arc(self, cx, cy, w, h, start, end, fill, width):
        self.draw.arc(
            self.box(cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2),
            start,
            end,
            fill=fill,
            width=max(1, round(width * self.px)),
        )

    def chord(self, cx, cy, w, h, start, end, fill):
        self.draw.chord(
            self.box(cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2), start, end, fill=fill
        )


def _curve(x0: float, x1: float, y: float, bend: float, n: int = 12) -> list[tuple[float, float]]:
    """A parabola from x0 to x1 at height y, its middle ``bend`` lower (negative: higher)."""
    points = []
    for i in range(n + 1):
        t = i / n
        points.append((x0 + (x1 - x0) * t, y + bend * (1 - (2 * t - 1) ** 2)))
    return points


def _draw_figure(
    canvas: _Canvas, attrs: PortraitAttributes, colours: dict[str, tuple[int, int, int]]
) -> None:
    """The person, front on: shoulders, hair behind, head, features, hair in front, extras."""
    lay = _Layout(attrs)
    skin, hair = colours["skin"], colours["hair"]
    cx = lay.cx
    # Shoulders and neck.
    canvas.ellipse(cx, 1.02, 0.86, 0.40, fill=colours["clothes"])
    canvas.rect(cx - 0.07, lay.bottom - 0.06, cx + 0.07, 0.86, fill=_shade(skin, 0.85))
    canvas.chord(cx, 0.86, 0.14, 0.08, 0, 180, fill=_shade(skin, 0.85))
    # Hair behind the head: long hair falls to the shoulders.
    if attrs.hair_length == "long":
        canvas.ellipse(cx, lay.cy - 0.02, lay.fw + 0.16, lay.fh + 0.12, fill=hair)
        # Falling past the jaw and spreading a little over the shoulders.
        half, low = lay.fw / 2 + 0.07, lay.bottom + 0.08
        canvas.polygon(
            [
                (cx - half, lay.cy - 0.05),
                (cx + half, lay.cy - 0.05),
                (cx + half + 0.04, low),
                (cx - half - 0.04, low),
            ],
            fill=hair,
        )
        for side in (-1, 1):
            canvas.ellipse(cx + side * (half - 0.01), low, 0.1, 0.06, fill=hair)
    elif attrs.hair_length == "short":
        canvas.ellipse(cx, lay.cy - 0.05, lay.fw + 0.07, lay.fh + 0.04, fill=hair)
    # Ears, then the head.
    for side in (-1, 1):
        canvas.ellipse(
            cx + side * lay.fw / 2, lay.eye_y + 0.03, 0.06, 0.10, fill=_shade(skin, 0.92)
        )
    canvas.ellipse(cx, lay.cy, lay.fw, lay.fh, fill=skin)
    if attrs.gender == "man":
        canvas.chord(cx, lay.cy + lay.fh * 0.12, lay.fw * 0.96, lay.fh * 0.76, 0, 180, fill=skin)
    # Age: young cheeks blush; old faces carry lines on the brow, under the eyes, by the mouth.
    line = _shade(skin, 0.62)
    if attrs.age == "young":
        for side in (-1, 1):
            canvas.ellipse(
                cx + side * lay.fw * 0.30, lay.mouth_y - 0.045, 0.07, 0.045, fill=(240, 120, 130)
            )
    else:
        for i in range(3):
            y = lay.top + lay.fh * (0.16 + 0.055 * i)
            canvas.line(
                _curve(cx - lay.fw * 0.28, cx + lay.fw * 0.28, y, -0.01), fill=line, width=0.008
            )
        for side in (-1, 1):
            ex = cx + side * lay.eye_dx
            canvas.line(
                _curve(ex - 0.04, ex + 0.04, lay.eye_y + 0.05, 0.014), fill=line, width=0.009
            )
            ox = ex + side * 0.07
            canvas.line(
                [(ox, lay.eye_y - 0.015), (ox + side * 0.02, lay.eye_y - 0.025)],
                fill=line,
                width=0.007,
            )
            canvas.line(
                [(ox, lay.eye_y + 0.01), (ox + side * 0.02, lay.eye_y + 0.02)],
                fill=line,
                width=0.007,
            )
            mx = cx + side * lay.mouth_w * 0.62
            canvas.line(
                [(mx - side * 0.015, lay.mouth_y - 0.07), (mx + side * 0.012, lay.mouth_y + 0.01)],
                fill=line,
                width=0.010,
            )
    # Eyes: white, coloured iris, pupil; or closed lids.
    for side in (-1, 1):
        ex = cx + side * lay.eye_dx
        if attrs.eyes == "open":
            r = lay.eye_r * (1.25 if attrs.expression == "surprised" else 1.0)
            canvas.ellipse(
                ex,
                lay.eye_y,
                r * 2.1,
                r * 1.5,
                fill=(250, 250, 250),
                outline=(40, 30, 30),
                width=0.006,
            )
            canvas.ellipse(ex, lay.eye_y, r * 1.15, r * 1.15, fill=colours["iris"])
            canvas.ellipse(ex, lay.eye_y, r * 0.5, r * 0.5, fill=(10, 10, 10))
            canvas.ellipse(
                ex + r * 0.2, lay.eye_y - r * 0.2, r * 0.25, r * 0.25, fill=(255, 255, 255)
            )
            if attrs.gender == "woman":
                for k in (-1, 0, 1):
                    x = ex + side * r * (0.75 + 0.2 * k) * 0.9
                    canvas.line(
                        [(x, lay.eye_y - r * 0.65), (x + side * 0.012, lay.eye_y - r * 1.05)],
                        fill=(20, 15, 15),
                        width=0.006,
                    )
        else:
            canvas.line(
                _curve(ex - lay.eye_r, ex + lay.eye_r, lay.eye_y, 0.018),
                fill=(30, 20, 20),
                width=0.010,
            )
    # Brows say as much about the expression as the mouth.
    brow = _shade(hair if attrs.hair_colour else (90, 70, 60), 0.8)
    brow_w = 0.016 if attrs.gender == "man" else 0.010
    for side in (-1, 1):
        ex = cx + side * lay.eye_dx
        inner, outer = ex - side * 0.045, ex + side * 0.05
        y = lay.eye_y - 0.07
        if attrs.expression == "surprised":
            canvas.line(
                _curve(min(inner, outer), max(inner, outer), y - 0.03, -0.025),
                fill=brow,
                width=brow_w,
            )
        elif attrs.expression == "serious":
            canvas.line([(inner, y + 0.012), (outer, y - 0.008)], fill=brow, width=brow_w * 1.2)
        else:
            canvas.line(
                _curve(min(inner, outer), max(inner, outer), y, -0.014), fill=brow, width=brow_w
            )
    # Nose: a shadowed wedge.
    nose = _shade(skin, 0.72)
    canvas.line(
        [
            (cx + 0.004, lay.eye_y + 0.03),
            (cx + 0.02, lay.mouth_y - 0.06),
            (cx - 0.012, lay.mouth_y - 0.05),
        ],
        fill=nose,
        width=0.010,
    )
    # Beard under the mouth, in the hair colour (grey for a bald old man).
    if attrs.beard:
        beard = (
            hair if attrs.hair_colour else (HAIR["grey"] if attrs.age == "old" else HAIR["brown"])
        )
        canvas.chord(cx, lay.cy + lay.fh * 0.16, lay.fw * 0.96, lay.fh * 0.70, 0, 180, fill=beard)
        canvas.ellipse(cx, lay.mouth_y - 0.005, lay.mouth_w * 1.25, 0.06, fill=beard)
    # Mouth: a wide open smile, a flat line, or a round O.
    lips = LIPS if attrs.gender == "woman" else _shade(skin, 0.5)
    mw, my = lay.mouth_w, lay.mouth_y
    if attrs.expression == "smiling":
        canvas.chord(cx, my - 0.02, mw, 0.09, 0, 180, fill=(120, 20, 30))
        canvas.chord(cx, my - 0.02, mw * 0.8, 0.05, 0, 180, fill=(250, 250, 245))
        canvas.arc(cx, my - 0.02, mw, 0.09, 0, 180, fill=lips, width=0.012)
        canvas.line([(cx - mw / 2, my - 0.02), (cx + mw / 2, my - 0.02)], fill=lips, width=0.008)
    elif attrs.expression == "serious":
        canvas.line([(cx - mw * 0.42, my), (cx + mw * 0.42, my)], fill=lips, width=0.016)
    else:
        canvas.ellipse(cx, my, mw * 0.42, 0.075, fill=(60, 10, 15), outline=lips, width=0.010)
    # Hair in front: a fringe over the brow.
    if attrs.hair_length != "bald":
        canvas.chord(cx, lay.top + lay.fh * 0.10, lay.fw * 1.02, lay.fh * 0.36, 180, 360, fill=hair)
        if attrs.hair_length == "long":
            for side in (-1, 1):
                canvas.ellipse(
                    cx + side * lay.fw * 0.46, lay.cy - 0.02, 0.07, lay.fh * 0.7, fill=hair
                )
    # Glasses: thick dark round frames and a bridge.
    if attrs.glasses:
        frame = (15, 15, 20)
        for side in (-1, 1):
            canvas.ellipse(
                cx + side * lay.eye_dx, lay.eye_y, 0.13, 0.11, fill=None, outline=frame, width=0.014
            )
        canvas.line(
            [(cx - lay.eye_dx + 0.065, lay.eye_y), (cx + lay.eye_dx - 0.065, lay.eye_y)],
            fill=frame,
            width=0.012,
        )
    # Hat: a crown and a wide brim on top of the head.
    if attrs.hat:
        hat = colours["hat"]
        canvas.rect(cx - lay.fw * 0.42, lay.hat_top, cx + lay.fw * 0.42, lay.top + 0.06, fill=hat)
        canvas.chord(cx, lay.hat_top, lay.fw * 0.84, 0.06, 180, 360, fill=hat)
        canvas.rect(
            cx - lay.fw * 0.42,
            lay.top + 0.02,
            cx + lay.fw * 0.42,
            lay.top + 0.05,
            fill=_shade(hat, 2.2),
        )
        canvas.ellipse(cx, lay.top + 0.065, lay.fw + 0.22, 0.05, fill=_shade(hat, 0.8))


def _colours(
    attrs: PortraitAttributes, rng: np.random.Generator
) -> dict[str, tuple[int, int, int]]:
    return {
        "skin": SKIN[attrs.skin],
        "hair": HAIR[attrs.hair_colour] if attrs.hair_colour else SKIN[attrs.skin],
        "iris": IRIS[attrs.eye_colour] if attrs.eye_colour else IRIS["brown"],
        "clothes": CLOTHES[int(rng.integers(len(CLOTHES)))],
        "hat": HATS[int(rng.integers(len(HATS)))],
        # A style that decides the background paints over it; grey is a neutral ground.
        "background": BACKGROUND[attrs.background] if attrs.background else BACKGROUND["grey"],
    }


def _figure_mask(attrs: PortraitAttributes, size: int) -> np.ndarray:
    """Where the person is (1) and where the background shows (0), at the final size."""
    white = (255, 255, 255)
    colours = {k: white for k in ("skin", "hair", "iris", "clothes", "hat", "background")}
    big = Image.new("RGB", (size * SUPERSAMPLE,) * 2, (0, 0, 0))
    _draw_figure(_Canvas(big), attrs, colours)
    # Any stroke counts, the features drawn in dark colours (pupils, frames) too.
    drawn = Image.fromarray(np.uint8(np.asarray(big).max(axis=2) > 0) * 255, "L")
    return np.asarray(drawn.resize((size, size), Image.Resampling.BOX), dtype=np.float32) / 255.0


def portrait_regions(attrs: PortraitAttributes, size: int = 128) -> dict[str, np.ndarray]:
    """Boolean masks of where each part of the portrait lies, for measuring a drawn image:
    ``background``, ``figure``, ``hair`` (the fringe band above the brow), ``face`` (the
    cheeks and forehead between features), ``eyes``, ``mouth``, ``chin``, ``left_face`` and
    ``right_face`` (the two halves of the face, as the viewer sees them)."""
    lay = _Layout(attrs)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    x, y = (xx + 0.5) / size, (yy + 0.5) / size
    inside_face = ((x - lay.cx) / (lay.fw / 2)) ** 2 + ((y - lay.cy) / (lay.fh / 2)) ** 2 < 0.8**2
    figure = _figure_mask(attrs, size) > 0.5
    eyes = np.zeros((size, size), bool)
    for side in (-1, 1):
        ex = lay.cx + side * lay.eye_dx
        eyes |= (np.abs(x - ex) < 0.06) & (np.abs(y - lay.eye_y) < 0.04)
    return {
        "background": ~figure,
        "figure": figure,
        "hair": (np.abs(x - lay.cx) < lay.fw * 0.3)
        & (y > lay.top - 0.02)
        & (y < lay.top + lay.fh * 0.08),
        "face": inside_face
        & ~eyes
        & (y > lay.eye_y + 0.05)
        & (y < lay.mouth_y - 0.035)
        & (np.abs(x - lay.cx) > 0.04),
        "eyes": eyes,
        "mouth": (np.abs(x - lay.cx) < lay.mouth_w * 0.45) & (np.abs(y - lay.mouth_y) < 0.04),
        "chin": (np.abs(x - lay.cx) < lay.fw * 0.3)
        & (y > lay.mouth_y + 0.04)
        & (y < lay.bottom - 0.01),
        "left_face": inside_face & (x < lay.cx - 0.04),
        "right_face": inside_face & (x > lay.cx + 0.04),
        "above_head": (np.abs(x - lay.cx) < lay.fw * 0.3)
        & (y > lay.top - 0.14)
        & (y < lay.top - 0.02),
    }


# --- Light, time of day and style, on float RGB arrays in 0–1 ------------------------------


def _luminance(rgb: np.ndarray) -> np.ndarray:
    return rgb @ np.array([0.299, 0.587, 0.114], dtype=np.float32)


def _blur(rgb: np.ndarray, radius: float) -> np.ndarray:
    image = Image.fromarray(np.uint8(np.clip(rgb, 0, 1) * 255 + 0.5))
    return np.asarray(image.filter(ImageFilter.GaussianBlur(radius)), dtype=np.float32) / 255.0


def _blur_channel(channel: np.ndarray, radius: float) -> np.ndarray:
    image = Image.fromarray(np.uint8(np.clip(channel, 0, 1) * 255 + 0.5))
    return np.asarray(image.filter(ImageFilter.GaussianBlur(radius)), dtype=np.float32) / 255.0


def _grid(size: int) -> tuple[np.ndarray, np.ndarray]:
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    return (xx + 0.5) / size, (yy + 0.5) / size


def _light(rgb: np.ndarray, attrs: PortraitAttributes, figure: np.ndarray) -> np.ndarray:
    """Side light: the lit half of the figure bright, the other in shadow."""
    x, y = _grid(rgb.shape[0])
    if attrs.lighting == "front":
        ramp = 1.08 - 0.35 * np.abs(x - 0.5)
    else:
        t = x if attrs.lighting == "left" else 1 - x
        ramp = 1.22 - 0.75 * t
    factor = 1 + (ramp - 1) * figure
    return rgb * factor[..., None]


def _time_of_day(
    rgb: np.ndarray, attrs: PortraitAttributes, figure: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    size = rgb.shape[0]
    x, y = _grid(size)
    bg = (1 - figure)[..., None]
    if attrs.time_of_day == "day":
        sky = np.array([0.75, 0.88, 1.0], np.float32)
        return (
            rgb * 1.04 * (1 - 0.25 * bg * (y[..., None] < 0.3))
            + 0.25 * bg * (y[..., None] < 0.3) * sky
        )
    if attrs.time_of_day == "dusk":
        warm = np.array([1.0, 0.68, 0.55], np.float32)
        glow = np.stack([0.95 - 0.3 * y, 0.45 - 0.2 * y, 0.35 + 0.15 * y], -1)
        return rgb * warm * 0.85 * (1 - 0.35 * bg) + 0.35 * bg * glow
    if attrs.time_of_day == "night":
        cool = np.array([0.32, 0.36, 0.55], np.float32)
        out = rgb * cool
        stars = (rng.random((size, size)) < 0.006) & (y < 0.45)
        moon = ((x - 0.82) ** 2 + (y - 0.14) ** 2) < 0.06**2
        lit = ((stars | moon) & (figure < 0.5))[..., None]
        return np.where(lit, np.array([0.95, 0.95, 0.85], np.float32), out)
    return rgb


def _dabs(
    rgb: np.ndarray, rng: np.random.Generator, count: int, radius: float, jitter: float
) -> np.ndarray:
    """Short elongated brush dabs, each in the colour under it, a little off."""
    size = rgb.shape[0]
    image = Image.fromarray(np.uint8(np.clip(rgb, 0, 1) * 255 + 0.5))
    draw = ImageDraw.Draw(image)
    for _ in range(count):
        px, py = rng.integers(size, size=2)
        colour = np.clip(
            rgb[py, px] * (1 + rng.normal(0, jitter, 3)) + rng.normal(0, jitter / 3, 3), 0, 1
        )
        angle = rng.uniform(0, math.pi)
        length = radius * rng.uniform(1.2, 2.2)
        dx, dy = math.cos(angle) * length, math.sin(angle) * length
        draw.line(
            [(px - dx, py - dy), (px + dx, py + dy)],
            fill=tuple(int(c * 255) for c in colour),
            width=max(1, round(radius)),
        )
    return np.asarray(image, dtype=np.float32) / 255.0


def _edges(rgb: np.ndarray) -> np.ndarray:
    lum = _luminance(rgb)
    gx = np.abs(np.diff(lum, axis=1, prepend=lum[:, :1]))
    gy = np.abs(np.diff(lum, axis=0, prepend=lum[:1, :]))
    return np.maximum(gx, gy)


def _saturate(rgb: np.ndarray, amount: float) -> np.ndarray:
    lum = _luminance(rgb)[..., None]
    return lum + (rgb - lum) * amount


def _style_none(rgb, figure, attrs, rng):
    return rgb


def _style_impressionist(rgb, figure, attrs, rng):
    size = rgb.shape[0]
    warm = _saturate(rgb, 1.3) * np.array([1.05, 1.0, 0.9], np.float32) + 0.04
    return _dabs(warm, rng, count=size * size // 6, radius=size / 90, jitter=0.10)


def _style_hyperreal(rgb, figure, attrs, rng):
    size = rgb.shape[0]
    soft = _blur(rgb, size / 120)
    background = _blur(rgb, size / 20)  # shallow depth of field
    out = soft * figure[..., None] + background * (1 - figure[..., None])
    x, y = _grid(size)
    vignette = 1 - 0.35 * ((x - 0.5) ** 2 + (y - 0.5) ** 2)
    return out * vignette[..., None] + rng.normal(0, 0.012, out.shape).astype(np.float32)


def _style_baroque(rgb, figure, attrs, rng):
    size = rgb.shape[0]
    x, y = _grid(size)
    lx = {"left": 0.2, "right": 0.8, "front": 0.5}[attrs.lighting]
    spot = np.exp(-((x - lx) ** 2 + (y - 0.4) ** 2) / 0.15)
    ground = np.array([0.13, 0.08, 0.04], np.float32)
    warm = rgb * np.array([1.0, 0.82, 0.55], np.float32)
    lit = warm * (0.5 + 0.8 * spot)[..., None]
    out = lit * figure[..., None] + ground * (1 - figure[..., None]) * (0.6 + 0.6 * spot[..., None])
    return _blur(np.clip(out, 0, 1), size / 200)


def _style_charcoal(rgb, figure, attrs, rng):
    size = rgb.shape[0]
    lum = np.clip((_luminance(rgb) - 0.5) * 1.3 + 0.55, 0, 1)
    x, y = _grid(size)
    period = max(3, size // 24)
    hatch = ((np.arange(size)[None, :] + np.arange(size)[:, None]) % period) < 1
    dark = (1 - lum) > 0.35
    lum = np.where(hatch & dark, lum * 0.55, lum)
    lum = _blur_channel(lum, size / 160)  # smudged
    grain = rng.normal(0, 0.04, (size, size)).astype(np.float32)
    paper = np.array([0.93, 0.91, 0.87], np.float32)
    edges = np.clip(_edges(rgb) * 3, 0, 1)
    tone = np.clip(lum + grain - edges * 0.5, 0, 1)[..., None]
    charcoal = np.array([0.12, 0.12, 0.13], np.float32)
    return charcoal + (paper - charcoal) * tone


def _style_watercolour(rgb, figure, attrs, rng):
    size = rgb.shape[0]
    washed = _blur(rgb, size / 110)
    pale = 1 - (1 - washed) * 0.75  # thin pigment: the white paper shows through
    pooling = np.clip(_edges(washed) * 4, 0, 0.5)[..., None]  # pigment gathers at a wash's edge
    paper = _blur_channel(rng.random((size, size)).astype(np.float32), size / 60)
    blotch = (paper - 0.5)[..., None] * 0.25
    out = pale * (1 - pooling) + blotch * (1 - pale)
    x, y = _grid(size)
    margin = np.minimum.reduce([x, y, 1 - x, 1 - y]) + (paper - 0.5) * 0.04
    white = (margin < 0.05)[..., None]
    return np.where(white, np.float32(0.98), out)


def _style_film_noir(rgb, figure, attrs, rng):
    size = rgb.shape[0]
    lum = _luminance(rgb)
    lum = 1 / (1 + np.exp(-(np.sqrt(lum) - 0.55) * 9))  # high contrast
    x, y = _grid(size)
    blinds = ((y * 9 + x * 3) % 1) < 0.45
    lum = np.where(blinds, lum * 0.55, lum)
    lum = lum * (0.55 + 0.45 * figure) + rng.normal(0, 0.03, (size, size)).astype(np.float32)
    return np.repeat(np.clip(lum, 0, 1)[..., None], 3, axis=2)


def _style_neon(rgb, figure, attrs, rng):
    size = rgb.shape[0]
    x, y = _grid(size)
    lum = _luminance(rgb)[..., None]
    magenta = np.array([1.0, 0.1, 0.85], np.float32)
    cyan = np.array([0.05, 0.95, 1.0], np.float32)
    tint = magenta * (1 - x[..., None]) + cyan * x[..., None]
    body = np.clip(lum * 0.7 * tint + _saturate(rgb, 1.6) * 0.35, 0, 1)
    rim = np.clip(_blur_channel(figure, size / 40) - figure * 0.6, 0, 1)[..., None] * 1.6
    city = np.array([0.06, 0.02, 0.14], np.float32) * (1 - y[..., None])
    streaks = ((rng.random((size, 1)) < 0.2) & (y[..., :1] > 0.6)) * np.float32(1)
    street = (streaks * 0.35)[..., None] * tint
    out = body * figure[..., None] + (city + street) * (1 - figure[..., None]) + rim * tint
    return np.clip(out, 0, 1)


def _style_tempera(rgb, figure, attrs, rng):
    size = rgb.shape[0]
    gold = np.array([0.86, 0.68, 0.26], np.float32)
    leaf = (
        gold
        * (0.9 + 0.2 * _blur_channel(rng.random((size, size)).astype(np.float32), size / 50))[
            ..., None
        ]
    )
    muted = _saturate(rgb, 0.75) * np.array([1.0, 0.93, 0.78], np.float32) + 0.03
    crackle = (rng.random((size, size)) < 0.02)[..., None] * np.float32(0.15)
    out = muted * figure[..., None] + leaf * (1 - figure[..., None]) - crackle
    outline = np.clip(_edges(rgb) * 2, 0, 0.5)[..., None]
    return out * (1 - outline * 0.6)


def _style_surreal(rgb, figure, attrs, rng):
    size = rgb.shape[0]
    x, y = _grid(size)
    sky = np.stack([0.35 + 0.6 * y, 0.55 + 0.2 * y, 0.95 - 0.25 * y], -1)
    floor = (y > 0.78) & ((np.floor(x * 8 + (y - 0.78) * 12) + np.floor(y * 24)) % 2 == 0)
    ground = np.where(floor[..., None], np.float32(0.12), sky)
    for _ in range(3):
        ox, oy, r = rng.uniform(0.05, 0.95), rng.uniform(0.05, 0.4), rng.uniform(0.04, 0.08)
        ball = ((x - ox) ** 2 + (y - oy) ** 2) < r**2
        ground = np.where(ball[..., None], np.array([0.95, 0.9, 0.3], np.float32), ground)
    out = rgb * figure[..., None] + ground * (1 - figure[..., None])
    # Melting: rows shift sideways more and more towards the bottom.
    shift = (
        np.sin(np.arange(size) / size * 18) * (np.arange(size) / size) ** 2 * size * 0.06
    ).astype(int)
    melted = np.stack([np.roll(out[i], shift[i], axis=0) for i in range(size)])
    return _saturate(melted, 1.25)


def _style_bioluminescent(rgb, figure, attrs, rng):
    size = rgb.shape[0]
    x, y = _grid(size)
    forest = (
        np.array([0.01, 0.07, 0.09], np.float32)
        + np.array([0.0, 0.06, 0.05], np.float32) * (1 - y)[..., None]
    )
    body = rgb * np.array([0.55, 0.75, 0.9], np.float32)
    out = body * figure[..., None] + forest * (1 - figure[..., None])
    spots = (rng.random((size, size)) < 0.01) * figure
    particles = (rng.random((size, size)) < 0.01) * (1 - figure)
    glow = _blur_channel(np.clip((spots + particles) * 3, 0, 1), size / 90)[..., None]
    colour = np.array([0.2, 1.0, 0.8], np.float32)
    return np.clip(
        out + glow * colour * 1.6 + ((spots + particles) > 0)[..., None] * colour * 0.6, 0, 1
    )


def _style_ukiyo_e(rgb, figure, attrs, rng):
    size = rgb.shape[0]
    flat = np.round(_blur(rgb, size / 200) * 6) / 6  # flat colour areas
    flat = flat * np.array([0.92, 0.88, 0.80], np.float32) + np.array(
        [0.06, 0.06, 0.04], np.float32
    )
    fibres = _blur_channel(rng.random((size, size)).astype(np.float32), 0.6)[..., None] * 0.08
    washi = np.array([0.92, 0.86, 0.72], np.float32)
    out = np.where(figure[..., None] > 0.5, flat, washi * 0.6 + flat * 0.4) - fibres
    lines = (_edges(flat) > 0.05)[..., None]
    return np.where(lines, np.float32(0.08), out)


def _style_pop_art(rgb, figure, attrs, rng):
    size = rgb.shape[0]
    # Stretched first, so a picture darkened by dusk still posterizes into bright inks.
    loud = _saturate(rgb, 1.6)
    loud = np.clip(loud / max(float(np.percentile(loud.max(axis=2), 95)), 0.3), 0, 1)
    poster = np.where(
        loud > 0.7, np.float32(1.0), np.where(loud > 0.2, np.float32(0.5), np.float32(0.05))
    )
    period = max(3, size // 22)
    yy, xx = np.mgrid[0:size, 0:size]
    cell = ((xx % period) - period / 2) ** 2 + ((yy % period) - period / 2) ** 2
    dots = (cell < (period * 0.3) ** 2)[..., None] & (figure[..., None] > 0.5)
    out = np.where(dots, poster * 0.75, poster)
    lines = (_edges(rgb) > 0.06)[..., None]
    return np.where(lines, np.float32(0.0), out)


STYLE_LOOKS = {
    None: _style_none,
    "impressionist": _style_impressionist,
    "hyperreal-photograph": _style_hyperreal,
    "baroque-chiaroscuro": _style_baroque,
    "charcoal-sketch": _style_charcoal,
    "watercolour": _style_watercolour,
    "film-noir": _style_film_noir,
    "neon-futurism": _style_neon,
    "renaissance-tempera": _style_tempera,
    "surreal-dreamscape": _style_surreal,
    "bioluminescent-fantasy": _style_bioluminescent,
    "ukiyo-e": _style_ukiyo_e,
    "pop-art": _style_pop_art,
}


def draw_portrait(attrs: PortraitAttributes, size: int = 128) -> Image.Image:
    """The portrait ``attrs`` describes, as a ``size``×``size`` RGB image. Deterministic:
    the same attributes (``texture_seed`` included) give byte-identical pixels."""
    if size < 32:
        raise ValueError(f"size must be at least 32 px, not {size}")
    rng = np.random.default_rng(attrs.texture_seed)
    colours = _colours(attrs, rng)
    big = Image.new("RGB", (size * SUPERSAMPLE,) * 2, colours["background"])
    _draw_figure(_Canvas(big), attrs, colours)
    rgb = np.asarray(big.resize((size, size), Image.Resampling.LANCZOS), dtype=np.float32) / 255.0
    figure = _figure_mask(attrs, size)
    rgb = _light(rgb, attrs, figure)
    rgb = _time_of_day(rgb, attrs, figure, rng)
    rgb = STYLE_LOOKS[attrs.style](np.clip(rgb, 0, 1).astype(np.float32), figure, attrs, rng)
    return Image.fromarray(np.uint8(np.clip(rgb, 0, 1) * 255 + 0.5), "RGB")


def contact_sheet(images: list[Image.Image], cols: int = 8, gap: int = 2) -> Image.Image:
    """The images in a grid, row by row, on white: for looking at many at once."""
    if not images:
        raise ValueError("no images for a contact sheet")
    w, h = images[0].size
    rows = math.ceil(len(images) / cols)
    sheet = Image.new("RGB", (cols * (w + gap) + gap, rows * (h + gap) + gap), (255, 255, 255))
    for i, image in enumerate(images):
        sheet.paste(
            image.convert("RGB"), (gap + (i % cols) * (w + gap), gap + (i // cols) * (h + gap))
        )
    return sheet
