"""The inference layer: the only module of the project that touches torch and diffusers.

Everything heavy is imported inside functions, so the web process can import this module (for
`GenerationSpec`, `GenerationCancelled`, `backend_available`...) without loading torch. A test
keeps that true.

What it does
------------
- `load_pipeline(ModelRef)` loads a diffusers text-to-image pipeline (hub id or local folder)
  onto the selected device and keeps it in a small thread-safe LRU cache, because loading a
  real model takes seconds to minutes and a GPU holds one big model at a time.
- `generate(spec, on_step)` paints one spec (a batch of `num_images`) in one pipeline call and
  reports every denoising step with a live preview projected straight from the latents (no VAE
  per step, under a millisecond, and only for the steps whose preview is read). Callers cancel by raising from `on_step`: the exception
  leaves the pipeline at once and nothing is decoded.
- `download_model()` fetches a hub model into the Hugging Face cache ahead of time, so workers
  can run offline.

Reproducibility
---------------
Image i of a spec uses its own generator seeded with `spec.seed + i` (a list of generators is
passed to the pipeline), so `seeds == [seed, seed + 1, ...]` and every image's initial noise
depends only on its own seed. Pixels are bit-identical for the same spec on the same device,
dtype, torch thread count and batch composition. Another batch size changes the order of float
reductions (UNet and VAE), so "image 1 of a batch with seed s" and "a single image with seed
s + 1" start from the same noise but are not guaranteed bit-identical. Measured on CPU float32
with the tiny model, 20 steps: identical at 64x64; at 128x128 about 0.01 % of the 8-bit values
differ by 1 (latents differed by ~3e-5 for some batch sizes, and the VAE decode of the very same
latent differs by ~1e-5 between batch 1 and 2). Visually identical, but not bit-identical.

Model revision
--------------
`GenerationResult.model_revision` records which weights painted a picture:
- hub id: the commit sha of the snapshot in the local Hugging Face cache (the revision asked
  for when that cannot be found);
- local folder that is itself a hub-cache snapshot (`.../snapshots/<40 hex>`): that sha;
- any other local folder: `sha256:` + 16 hex digits of a hash over every file's relative path
  and size, the full content of small files (configs, tokenizer) and 1 MiB samples from the
  start, middle and end of each large weight file. Modification times are left out on purpose
  (copying a model folder must not change its identity), while samples of the weights catch a
  fine-tune saved over a folder with the same architecture and file sizes. It reads a few MB
  per model, once per load.

Batching compatible queued specs
--------------------------------
On a GPU one batched call paints several times more images per second than one call per image
(measured on an H100 with plain diffusers: SD1.5 at 512² goes from 1.2 img/s one image per call
to 5.3 img/s with batch 8; SDXL at 1024² from 0.50 to 0.96 img/s with batch 4). Specs can share a
call when `batch_key(spec)` is equal: same model, size, steps, scheduler, guidance and, for
image-to-image, the same strength; prompts, negative prompts, seeds, counts and init images may
differ, because diffusers accepts one prompt, negative prompt, generator and init image per row.
`generate_batch(specs, on_step)` does exactly that and is what `generate` itself uses (a batch of
one). Two things a queue that uses it must accept:
- cancelling is per call: an exception from `on_step` stops every spec of the batch, so a
  caller that cancels one spec stops reporting it instead, and drops its images afterwards;
- pixels depend on batch composition in the last bits (even on CPU, see above), so a job
  replayed alone may differ imperceptibly from the batched original.
The worker collects queued jobs with equal `batch_key` up to a size limit (about 8 images for
SD1.5 at 512², 4 for SDXL at 1024² on an 80 GB GPU) and hands them to `generate_batch`
(`generation.services.job_claim_batch`); it drops a cancelled job's rows from its reports and
keeps painting the others, stopping the call only when every job is cancelled.

Configuration (environment)
---------------------------
- `LIKENESS_DEVICE`: `auto` (default: CUDA in float16 when available, else CPU in float32),
  `cuda`, `cpu` or `mps` (float16).
- `LIKENESS_TORCH_THREADS`: torch's intra-op thread count, set once (default `os.cpu_count()`);
  also part of what makes CPU results reproducible.
- `LIKENESS_PIPELINE_CACHE_SIZE`: how many loaded pipelines to keep (default 1).
- `LIKENESS_DTYPE`: `auto` (float16 on accelerators, float32 on CPU), `float16`, `bfloat16`,
  `float32`.
- Speed-ups, read when a pipeline is loaded (`SpeedUps`; each `auto` is on for CUDA only):
  `LIKENESS_CHANNELS_LAST`, `LIKENESS_FUSE_QKV`, `LIKENESS_VAE_SLICING`,
  `LIKENESS_VAE_TILING_ABOVE` (pixels, default 1536²), and the opt-in `LIKENESS_COMPILE=1`
  with `LIKENESS_BATCH_BUCKETS` (default `1,2,4,8` when compiling), warmed by `warm_up`.
- A process that loads a local model folder first sets `HF_HUB_OFFLINE=1` (unless it is set
  already) before diffusers is imported, so nothing ever reaches the hub; such a process cannot
  later download a hub model. Workers serve a configured model, and `download_model` (a
  management step) runs in its own process.
"""

from __future__ import annotations

import gc
import hashlib
import importlib.util
import io
import json
import logging
import os
import re
import sys
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property, partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from PIL.Image import Image

logger = logging.getLogger(__name__)

ENV_DEVICE = "LIKENESS_DEVICE"
ENV_TORCH_THREADS = "LIKENESS_TORCH_THREADS"
ENV_CACHE_SIZE = "LIKENESS_PIPELINE_CACHE_SIZE"
ENV_DTYPE = "LIKENESS_DTYPE"
ENV_CHANNELS_LAST = "LIKENESS_CHANNELS_LAST"
ENV_FUSE_QKV = "LIKENESS_FUSE_QKV"
ENV_COMPILE = "LIKENESS_COMPILE"
ENV_BATCH_BUCKETS = "LIKENESS_BATCH_BUCKETS"
ENV_VAE_SLICING = "LIKENESS_VAE_SLICING"
ENV_VAE_TILING_ABOVE = "LIKENESS_VAE_TILING_ABOVE"
DTYPES = ("auto", "float16", "bfloat16", "float32")

FAMILIES = ("auto", "sd", "sdxl")
DEVICES = ("auto", "cuda", "cpu", "mps")

PREVIEW_MAX_SIDE = 128
PREVIEW_MIME = "image/jpeg"
PREVIEW_JPEG_QUALITY = 75

# Fixed linear maps from a latent pixel (4 channels, in the pipeline's scaled latent space) to
# RGB in [-1, 1], fitted by the community against each family's VAE decoder (the values ComfyUI
# and A1111 use for their cheap previews). Rows are latent channels, columns R, G, B.
SD1_LATENT_RGB_FACTORS = (
    (0.3512, 0.2297, 0.3227),
    (0.3250, 0.4974, 0.2350),
    (-0.2829, 0.1762, 0.2721),
    (-0.2120, -0.2616, -0.7177),
)
SD1_LATENT_RGB_BIAS = (0.0, 0.0, 0.0)
SDXL_LATENT_RGB_FACTORS = (
    (0.3651, 0.4232, 0.4341),
    (-0.2533, -0.0042, 0.1068),
    (0.1076, 0.1111, -0.0362),
    (-0.3165, -0.2492, -0.2188),
)
SDXL_LATENT_RGB_BIAS = (0.1084, -0.0175, -0.0011)
# A model folder's own projection, fitted for its VAE (generation.training.train writes one).
LATENT_RGB_FILE = "latent_rgb.json"
_Projection = tuple[tuple[tuple[float, float, float], ...], tuple[float, float, float]]

_SEED_LIMIT = 2**63  # seeds are stored in signed 64-bit database columns
_HUB_COMMIT = re.compile(r"^[0-9a-f]{40}$")
_WEIGHT_SUFFIXES = (".safetensors", ".bin")
_SMALL_FILE = 3 * 2**20
_HASH_SAMPLE = 2**20


# --------------------------------------------------------------------------------------------
# Public data types (torch-free)
# --------------------------------------------------------------------------------------------
class GenerationCancelled(Exception):
    """Raised by an `on_step` callback to stop a generation; `generate` lets it propagate.

    Defined here, away from torch, so the code that cancels (the worker's progress relay) can
    import it cheaply.
    """


class InvalidSpecError(ValueError):
    """A `GenerationSpec` the pipeline cannot run (size, steps, strength, scheduler...)."""


class ModelUnavailableError(RuntimeError):
    """The model cannot be loaded or downloaded (missing folder, no network, unknown repo)."""


class OutOfMemory(RuntimeError):
    """The device ran out of memory loading a model or painting.

    torch's `OutOfMemoryError` (CUDA), and the `RuntimeError` the MPS backend raises, become
    this where they happen, so code outside this module tells them apart without torch.
    """


@dataclass(frozen=True)
class ModelRef:
    """Which weights to paint with.

    `source` is a Hugging Face repo id (`org/name`) or a local diffusers folder; `revision` a
    hub branch, tag or commit (ignored for folders); `family` picks the pipeline class:
    `"sd"`, `"sdxl"` or `"auto"` (read from the model's `model_index.json`).
    """

    source: str
    revision: str = ""
    family: str = "auto"

    def __post_init__(self) -> None:
        if not self.source:
            raise InvalidSpecError("model source is empty")
        if self.family not in FAMILIES:
            raise InvalidSpecError(f"model family {self.family!r} is not one of {FAMILIES}")


@dataclass(kw_only=True)
class GenerationSpec:
    """Everything that decides the pixels of one generation (a batch of `num_images`).

    `scheduler` is a diffusers scheduler class name (`"EulerDiscreteScheduler"`; the site offers
    `portraits.recipe.SCHEDULERS`); empty means the model's default. `init_image` (PNG or any
    Pillow-readable bytes) turns the call into image-to-image with `init_strength` in (0, 1];
    the pipeline then runs only `int(steps * init_strength)` denoising steps.
    """

    model: ModelRef
    prompt: str
    negative_prompt: str = ""
    seed: int
    steps: int
    guidance_scale: float
    width: int
    height: int
    num_images: int = 1
    scheduler: str = ""
    init_image: bytes | None = field(default=None, repr=False)
    init_strength: float | None = None


@dataclass
class StepEvent:
    """Progress of one denoising step: `step` counts from 1 to `total`.

    `preview` is a small JPEG (longest side at most 128 px) of the spec's first image,
    projected from the latents without the VAE; None when no preview could be made for this
    step (latents of a shape the projection does not know): a preview never fails a job.
    It is made when first read, from a copy of that step's latent taken on the device: a
    step whose preview nobody reads costs no copy to the host (on a GPU, no synchronisation),
    no projection and no JPEG.
    """

    step: int
    total: int
    preview_source: Callable[[], bytes | None] | None = field(
        default=None, repr=False, compare=False
    )
    preview_mime: str = PREVIEW_MIME

    @cached_property
    def preview(self) -> bytes | None:
        return self.preview_source() if self.preview_source is not None else None


@dataclass
class GenerationResult:
    """The pictures of one spec, with what is needed to reproduce and credit them."""

    images: list[Image]
    seeds: list[int]
    scheduler: str
    device: str
    dtype: str
    diffusers_version: str
    torch_version: str
    model_revision: str
    # Rows the pipeline call painted: this spec's, its batch-mates' and any padding.
    rows: int = 0


@dataclass(frozen=True)
class DeviceChoice:
    """Where and in which precision pipelines run (`"cuda"`, `"float16"`...)."""

    device: str
    dtype: str


# --------------------------------------------------------------------------------------------
# Backend presence and device
# --------------------------------------------------------------------------------------------
_BACKEND_MODULES = ("torch", "diffusers", "transformers")


def _missing_backend_modules() -> list[str]:
    return [name for name in _BACKEND_MODULES if importlib.util.find_spec(name) is None]


def backend_available() -> bool:
    """Whether torch, diffusers and transformers are installed (without importing them)."""
    return not _missing_backend_modules()


def backend_missing_reason() -> str:
    """A sentence for humans saying why generation is unavailable; empty when it is available."""
    missing = _missing_backend_modules()
    if not missing:
        return ""
    return (
        "No image generation backend is installed (missing: "
        f"{', '.join(missing)}). Install the inference extra: pip install -e '.[inference]'"
    )


def _env_int(name: str, default: int, minimum: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"{name} must be an integer, got {raw!r}") from None
    if value < minimum:
        raise ValueError(f"{name} must be at least {minimum}, got {value}")
    return value


_torch_lock = threading.Lock()
_torch_configured = False


def _torch() -> Any:
    """Import torch, setting its thread count once per process.

    The thread count is set explicitly because CPU results are bit-reproducible only for a
    fixed count, and torch's default (all cores) fights with the web server's threads.
    """
    global _torch_configured
    import torch

    with _torch_lock:
        if not _torch_configured:
            torch.set_num_threads(_env_int(ENV_TORCH_THREADS, os.cpu_count() or 1, 1))
            _torch_configured = True
    return torch


def select_device() -> DeviceChoice:
    """Pick the device and dtype from `LIKENESS_DEVICE` (see the module docstring).

    An explicitly requested device that is not available is an error rather than a silent
    fallback: a GPU worker quietly painting on its CPU would be a hundred times slower.
    """
    requested = os.environ.get(ENV_DEVICE, "").strip().lower() or "auto"
    if requested not in DEVICES:
        raise ValueError(f"{ENV_DEVICE} must be one of {', '.join(DEVICES)}, got {requested!r}")
    torch = _torch()
    cuda = torch.cuda.is_available()
    if requested == "auto":
        requested = "cuda" if cuda else "cpu"
    elif requested == "cuda" and not cuda:
        raise RuntimeError(f"{ENV_DEVICE}=cuda but torch sees no CUDA device")
    elif requested == "mps" and not torch.backends.mps.is_available():
        raise RuntimeError(f"{ENV_DEVICE}=mps but torch sees no MPS device")
    # Half precision on accelerators (the speed and memory they are built for); CPUs have no
    # fast float16 path, so they stay in float32. LIKENESS_DTYPE overrides (bfloat16: the
    # range of float32, for models whose activations overflow float16).
    dtype = os.environ.get(ENV_DTYPE, "").strip().lower() or "auto"
    if dtype not in DTYPES:
        raise ValueError(f"{ENV_DTYPE} must be one of {', '.join(DTYPES)}, got {dtype!r}")
    if dtype == "auto":
        dtype = "float32" if requested == "cpu" else "float16"
    return DeviceChoice(requested, dtype)


@dataclass(frozen=True)
class SpeedUps:
    """The fast-path switches a pipeline is loaded with (environment, read at load time;
    README, "GPU speed-ups", gives each one's measured effect)."""

    channels_last: bool  # LIKENESS_CHANNELS_LAST: UNet and VAE in NHWC memory layout
    fuse_qkv: bool  # LIKENESS_FUSE_QKV: one matmul for Q, K and V (diffusers' fusion)
    compile: bool  # LIKENESS_COMPILE: torch.compile of the UNet and the VAE decoder
    # LIKENESS_BATCH_BUCKETS: a call's rows are padded up to the next of these sizes, so a
    # compiled model sees a few static shapes (compiled once each, at warm-up) instead of one
    # per batch size; the padding rows' pictures are dropped.
    buckets: tuple[int, ...]
    vae_slicing: bool  # LIKENESS_VAE_SLICING: decode a batch one picture at a time
    # LIKENESS_VAE_TILING_ABOVE: decode in overlapping tiles above this many pixels (memory)
    vae_tiling_above: int


def _env_switch(name: str, default: bool) -> bool:
    raw = os.environ.get(name, "").strip().lower() or "auto"
    if raw not in ("auto", "1", "0", "true", "false"):
        raise ValueError(f"{name} must be auto, 1 or 0, got {raw!r}")
    return default if raw == "auto" else raw in ("1", "true")


def compiling() -> bool:
    """Whether pipelines are loaded with `torch.compile` (`LIKENESS_COMPILE`; opt-in).
    Reads the environment only: torch is not imported."""
    return _env_switch(ENV_COMPILE, False)


def select_speedups(choice: DeviceChoice) -> SpeedUps:
    """Each switch `auto` (the default) is on for CUDA and off elsewhere, except compile,
    which is opt-in (its first calls compile for minutes): `1`/`0` force it."""
    cuda = choice.device == "cuda"
    compiled = compiling()
    raw_buckets = os.environ.get(ENV_BATCH_BUCKETS, "").strip()
    try:
        buckets = tuple(sorted({int(b) for b in raw_buckets.split(",") if b.strip()}))
    except ValueError:
        raise ValueError(
            f"{ENV_BATCH_BUCKETS} must be sizes like 1,2,4,8, got {raw_buckets!r}"
        ) from None
    if any(b < 1 for b in buckets):
        raise ValueError(f"{ENV_BATCH_BUCKETS} sizes must be at least 1, got {raw_buckets!r}")
    return SpeedUps(
        channels_last=_env_switch(ENV_CHANNELS_LAST, cuda),
        fuse_qkv=_env_switch(ENV_FUSE_QKV, cuda),
        compile=compiled,
        buckets=buckets or ((1, 2, 4, 8) if compiled else ()),
        vae_slicing=_env_switch(ENV_VAE_SLICING, cuda),
        vae_tiling_above=_env_int(ENV_VAE_TILING_ABOVE, 1536 * 1536, 1),
    )


# --------------------------------------------------------------------------------------------
# Pipeline loading and cache
# --------------------------------------------------------------------------------------------
@dataclass
class _LoadedModel:
    """A cached text-to-image pipeline and what `generate` needs next to it."""

    text2img: Any
    choice: DeviceChoice
    speedups: SpeedUps
    revision: str
    latent_rgb: _Projection | None
    scheduler_class: type
    scheduler_config: dict[str, Any]
    compatible_schedulers: dict[str, type]
    # Pipelines keep per-call state (scheduler timesteps, guidance scale), so one call at a time.
    lock: threading.Lock = field(default_factory=threading.Lock)
    img2img: Any = None

    def image_to_image(self) -> Any:
        """The image-to-image pipeline sharing this model's components; call under `lock`."""
        if self.img2img is None:
            from diffusers import AutoPipelineForImage2Image

            self.img2img = AutoPipelineForImage2Image.from_pipe(self.text2img)
            self.img2img.set_progress_bar_config(disable=True)
        return self.img2img


_CacheKey = tuple[str, str, str, str, str, "SpeedUps"]
_cache: OrderedDict[_CacheKey, _LoadedModel] = OrderedDict()
_cache_lock = threading.Lock()


def _is_local(source: str) -> bool:
    return Path(source).expanduser().is_dir()


def _looks_like_path(source: str) -> bool:
    """Whether `source` can only be meant as a folder (a hub id is `name` or `org/name`)."""
    return source.startswith(("/", ".", "~")) or "\\" in source or source.count("/") > 1


def load_pipeline(model: ModelRef) -> Any:
    """Return the loaded text-to-image pipeline for `model` (a diffusers `DiffusionPipeline`).

    Cached by (source, revision, family, device, dtype) in an LRU of
    `LIKENESS_PIPELINE_CACHE_SIZE` entries. Loading holds a process-wide lock, so two threads
    asking for the same model load it once; the least recently used pipeline is dropped
    *before* a new one loads, so a GPU does not need room for both.
    """
    return _loaded(model).text2img


def pipeline_cache_size() -> int:
    """How many pipelines a process keeps loaded (`LIKENESS_PIPELINE_CACHE_SIZE`)."""
    return _env_int(ENV_CACHE_SIZE, 1, 1)


def loaded_sources() -> list[str]:
    """The sources of the pipelines loaded in this process, most recently used last."""
    with _cache_lock:
        return [key[0] for key in _cache]


def clear_pipeline_cache() -> None:
    """Drop every cached pipeline and give its memory back (tests; model switches)."""
    with _cache_lock:
        _cache.clear()
        _release_memory()


def _loaded(model: ModelRef) -> _LoadedModel:
    choice = select_device()
    speedups = select_speedups(choice)
    key: _CacheKey = (
        model.source,
        model.revision,
        model.family,
        choice.device,
        choice.dtype,
        speedups,
    )
    with _cache_lock:
        entry = _cache.get(key)
        if entry is not None:
            _cache.move_to_end(key)
            return entry
        size = pipeline_cache_size()
        if len(_cache) >= size:
            while len(_cache) >= size:
                _cache.popitem(last=False)
            # Frees the memory now unless a generation still holds the evicted pipeline.
            _release_memory()
        with _out_of_memory_translated():
            entry = _load(model, choice, speedups)
        _cache[key] = entry
        return entry


def _is_out_of_memory(exc: BaseException) -> bool:
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(exc, torch.OutOfMemoryError):
        return True
    # MPS (and some CPU allocators) say so only in a RuntimeError's message.
    return isinstance(exc, MemoryError) or (
        isinstance(exc, RuntimeError) and "out of memory" in str(exc).lower()
    )


@contextmanager
def _out_of_memory_translated() -> Iterator[None]:
    """Raise `OutOfMemory` for the device's out-of-memory errors; anything else unchanged."""
    try:
        yield
    except (MemoryError, RuntimeError) as exc:
        if isinstance(exc, OutOfMemory) or not _is_out_of_memory(exc):
            raise
        lines = str(exc).strip().splitlines()
        raise OutOfMemory(lines[0] if lines else type(exc).__name__) from exc


def _release_memory() -> None:
    gc.collect()
    if "torch" in sys.modules:
        torch = sys.modules["torch"]
        if torch.cuda.is_available():
            torch.cuda.empty_cache()


def _load(model: ModelRef, choice: DeviceChoice, speedups: SpeedUps) -> _LoadedModel:
    local = _is_local(model.source)
    if not local and _looks_like_path(model.source):
        raise ModelUnavailableError(f"model folder {model.source!r} does not exist")
    if local and "huggingface_hub" not in sys.modules:
        # Read by huggingface_hub at import time, so it must be set before diffusers loads.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
    torch = _torch()
    import diffusers
    import transformers
    from diffusers import (
        AutoPipelineForText2Image,
        DiffusionPipeline,
        StableDiffusionPipeline,
        StableDiffusionXLPipeline,
    )

    # Loading bars (tqdm) would flood worker logs.
    diffusers.utils.logging.disable_progress_bar()
    transformers.utils.logging.disable_progress_bar()
    source = str(Path(model.source).expanduser()) if local else model.source
    location: dict[str, Any] = (
        {"local_files_only": True} if local else {"revision": model.revision or None}
    )
    try:
        index = DiffusionPipeline.load_config(source, **location)
    except Exception as exc:  # hub, network and file errors alike: say what to do instead
        raise ModelUnavailableError(
            f"cannot read model_index.json of {model.source!r}: {exc}. A local folder must "
            "be a diffusers pipeline folder; a hub model must be downloaded first "
            "(download_model) when the hub is unreachable."
        ) from exc

    kwargs: dict[str, Any] = {"dtype": getattr(torch, choice.dtype), **location}
    if "safety_checker" in index:
        # Moderation is the site's job (blocklist, reports, moderators); the SD checker would
        # black out pictures silently and keep a second 1 GB model in memory.
        kwargs.update(safety_checker=None, feature_extractor=None, requires_safety_checker=False)
    pipeline_class = {
        "sd": StableDiffusionPipeline,
        "sdxl": StableDiffusionXLPipeline,
        "auto": AutoPipelineForText2Image,
    }[model.family]
    try:
        pipe = pipeline_class.from_pretrained(source, **kwargs)
    except OSError as exc:  # a weight file missing or unreadable (the hub's LocalEntryNotFound)
        raise ModelUnavailableError(f"cannot load the weights of {model.source!r}: {exc}") from exc
    pipe.to(choice.device)
    pipe.set_progress_bar_config(disable=True)
    _speed_up(pipe, speedups, torch)

    return _LoadedModel(
        text2img=pipe,
        choice=choice,
        speedups=speedups,
        revision=_local_revision(Path(source)) if local else _hub_revision(source, model.revision),
        latent_rgb=_latent_projection(pipe, Path(source) if local else None),
        scheduler_class=type(pipe.scheduler),
        scheduler_config=dict(pipe.scheduler.config),
        compatible_schedulers={cls.__name__: cls for cls in pipe.scheduler.compatibles},
    )


def _speed_up(pipe: Any, speedups: SpeedUps, torch: Any) -> None:
    """Apply the load-time switches to a freshly loaded pipeline (see `SpeedUps`)."""
    unet, vae = getattr(pipe, "unet", None), getattr(pipe, "vae", None)
    if speedups.fuse_qkv:
        for part in (unet, vae):
            if part is not None and hasattr(part, "fuse_qkv_projections"):
                part.fuse_qkv_projections()
    if speedups.channels_last:
        for part in (unet, vae):
            if part is not None:
                part.to(memory_format=torch.channels_last)
    if speedups.vae_slicing and vae is not None and hasattr(vae, "enable_slicing"):
        vae.enable_slicing()
    if speedups.compile:
        if unet is not None:
            pipe.unet = torch.compile(unet, fullgraph=True)
        if vae is not None:
            vae.decoder = torch.compile(vae.decoder, fullgraph=True)


def warm_up(model: ModelRef, width: int, height: int, steps: int = 2) -> int:
    """Paint once at every batch bucket (`SpeedUps.buckets`, or one row) so a compiled
    model's shapes are compiled before the first job, not during it; returns the calls
    made. A worker calls it at start for the models it serves (`generation.tasks`)."""
    entry = _loaded(model)
    sizes = entry.speedups.buckets or (1,)
    for rows in sizes:
        spec = GenerationSpec(
            model=model,
            prompt="warm-up",
            seed=0,
            steps=steps,
            guidance_scale=7.0,
            width=width,
            height=height,
            num_images=rows,
        )
        generate_batch([spec])
    return len(sizes)


def _latent_projection(pipe: Any, folder: Path | None = None) -> _Projection | None:
    """The latent→RGB factors for this pipeline's VAE, or None for an unknown latent space.

    A model folder may carry its own, fitted for its VAE, in `latent_rgb.json`
    (`{"factors": 4 rows of R, G, B, "bias": [R, G, B]}`); the project's trained model does.
    """
    vae = getattr(pipe, "vae", None)
    if vae is None or vae.config.latent_channels != 4:
        return None
    fitted = _fitted_projection(folder / LATENT_RGB_FILE) if folder is not None else None
    if fitted is not None:
        return fitted
    if "StableDiffusionXL" in type(pipe).__name__:
        return SDXL_LATENT_RGB_FACTORS, SDXL_LATENT_RGB_BIAS
    return SD1_LATENT_RGB_FACTORS, SD1_LATENT_RGB_BIAS


def _fitted_projection(path: Path) -> _Projection | None:
    """The projection in a model's `latent_rgb.json`, or None when it has none (or a broken
    one: previews then fall back to the family's factors, and the model still paints)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        factors = tuple(tuple(float(v) for v in row) for row in data["factors"])
        bias = tuple(float(v) for v in data["bias"])
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        logger.warning("Ignoring %s: %s", path, exc)
        return None
    if len(factors) != 4 or any(len(row) != 3 for row in factors) or len(bias) != 3:
        logger.warning("Ignoring %s: expected 4 rows of 3 factors and 3 biases", path)
        return None
    return factors, bias  # type: ignore[return-value]


def _hub_revision(repo_id: str, revision: str) -> str:
    """The commit sha the hub cache holds for `repo_id`@`revision` (no network access)."""
    if _HUB_COMMIT.match(revision):
        return revision
    from huggingface_hub import try_to_load_from_cache

    cached = try_to_load_from_cache(repo_id, "model_index.json", revision=revision or None)
    if isinstance(cached, str):
        commit = Path(cached).parent.name
        if _HUB_COMMIT.match(commit):
            return commit
    return revision


def _local_revision(folder: Path) -> str:
    """Identify a local model folder; see "Model revision" in the module docstring."""
    resolved = folder.resolve()
    if resolved.parent.name == "snapshots" and _HUB_COMMIT.match(resolved.name):
        return resolved.name
    digest = hashlib.sha256()
    for path in sorted(p for p in resolved.rglob("*") if p.is_file()):
        relative = path.relative_to(resolved).as_posix()
        if relative.startswith("."):  # e.g. .cache/ left by snapshot_download(local_dir=)
            continue
        size = path.stat().st_size
        digest.update(f"{relative}\0{size}\0".encode())
        with path.open("rb") as handle:
            if size <= _SMALL_FILE:
                digest.update(handle.read())
            else:
                for offset in (0, size // 2, size - _HASH_SAMPLE):
                    handle.seek(offset)
                    digest.update(handle.read(_HASH_SAMPLE))
    return "sha256:" + digest.hexdigest()[:16]


# --------------------------------------------------------------------------------------------
# Generation
# --------------------------------------------------------------------------------------------
def batch_key(spec: GenerationSpec) -> tuple[Any, ...]:
    """Specs with equal keys can be painted in one pipeline call by `generate_batch`."""
    return (
        spec.model,
        spec.width,
        spec.height,
        spec.steps,
        spec.scheduler,
        spec.guidance_scale,
        spec.init_image is not None,
        spec.init_strength,
    )


def validate_spec(spec: GenerationSpec) -> None:
    """Raise `InvalidSpecError` for a spec the pipeline cannot run (torch-free)."""
    for name in ("width", "height"):
        value = getattr(spec, name)
        if value < 8 or value % 8:
            raise InvalidSpecError(f"{name} must be a positive multiple of 8, got {value}")
    if spec.steps < 1:
        raise InvalidSpecError(f"steps must be at least 1, got {spec.steps}")
    if spec.num_images < 1:
        raise InvalidSpecError(f"num_images must be at least 1, got {spec.num_images}")
    if spec.seed < 0 or spec.seed + spec.num_images > _SEED_LIMIT:
        raise InvalidSpecError(f"seed must be between 0 and 2**63 - num_images, got {spec.seed}")
    if spec.init_image is None:
        if spec.init_strength is not None:
            raise InvalidSpecError("init_strength is only meaningful with an init_image")
        return
    strength = spec.init_strength
    if strength is None or not 0 < strength <= 1:
        raise InvalidSpecError(f"init_strength must be in (0, 1], got {strength}")
    # portraits.recipe.img2img_steps's rule, restated: importing it would import the
    # ``config`` package, hence Django and Celery, and this module imports no project module.
    if int(spec.steps * strength) < 1:
        raise InvalidSpecError(
            f"{spec.steps} steps at strength {strength} leave no denoising step to run"
        )


def generate(
    spec: GenerationSpec, on_step: Callable[[StepEvent], None] | None = None
) -> GenerationResult:
    """Paint `spec` (its `num_images` in one pipeline call) and return the pictures.

    `on_step` runs after every denoising step on the calling thread; whatever it raises
    (`GenerationCancelled`, say) propagates out of `generate` at once, before any VAE decode.
    Blocks while another thread generates with the same pipeline.
    """
    if on_step is None:
        return generate_batch([spec])[0]
    relay = on_step  # bound once, so the lambda's type is not Optional
    return generate_batch([spec], lambda _index, event: relay(event))[0]


def generate_batch(
    specs: Sequence[GenerationSpec],
    on_step: Callable[[int, StepEvent], None] | None = None,
) -> list[GenerationResult]:
    """Paint several compatible specs (equal `batch_key`) in one pipeline call.

    `on_step(index, event)` is called after every step for each spec, `index` being its
    position in `specs` and the preview showing that spec's first image. An exception from `on_step`
    stops the whole call (every spec), see the module docstring. Results keep the order of
    `specs`, and each spec's images use seeds `seed, seed + 1, ...` as in `generate`.
    """
    if not specs:
        return []
    first = specs[0]
    for spec in specs:
        validate_spec(spec)
        if batch_key(spec) != batch_key(first):
            raise InvalidSpecError("specs in one batch must have equal batch_key()")
    entry = _loaded(first.model)
    torch = _torch()
    import diffusers

    # mps generators are not reliably supported; CPU noise is also what diffusers recommends
    # there for reproducibility.
    generator_device = "cpu" if entry.choice.device == "mps" else entry.choice.device
    prompts: list[str] = []
    negatives: list[str] = []
    generators: list[Any] = []
    init_images: list[Image] = []
    offsets: list[int] = []  # row of each spec's first image in the batch
    for spec in specs:
        offsets.append(len(prompts))
        prompts += [spec.prompt] * spec.num_images
        negatives += [spec.negative_prompt] * spec.num_images
        generators += [
            torch.Generator(generator_device).manual_seed(spec.seed + i)
            for i in range(spec.num_images)
        ]
        if spec.init_image is not None:
            image = _decode_init_image(spec.init_image, spec.width, spec.height)
            init_images += [image] * spec.num_images

    # Padding rows up to the next bucket: copies of the last row, dropped afterwards.
    rows = len(prompts)
    padded = next((b for b in entry.speedups.buckets if b >= rows), rows)
    for _ in range(padded - rows):
        prompts.append(prompts[-1])
        negatives.append(negatives[-1])
        generators.append(torch.Generator(generator_device).manual_seed(0))
        if init_images:
            init_images.append(init_images[-1])

    preview_of = _Previewer(entry.latent_rgb, _preview_size(first.width, first.height))

    def on_step_end(pipe: Any, index: int, _timestep: Any, tensors: dict[str, Any]) -> dict:
        if on_step is not None:
            latents = tensors["latents"]
            total = pipe.num_timesteps  # img2img runs int(steps * strength) of them
            for spec_index, row in enumerate(offsets):
                latent = latents[row].detach().clone()  # the scheduler updates latents in place
                on_step(
                    spec_index,
                    StepEvent(
                        step=index + 1,
                        total=total,
                        preview_source=partial(preview_of, latent),
                    ),
                )
        return {}  # diffusers requires a dict: the tensors to replace (none)

    with entry.lock:
        pipe = entry.image_to_image() if init_images else entry.text2img
        pipe.scheduler = _scheduler(entry, first.scheduler)
        call: dict[str, Any] = {
            "prompt": prompts,
            "negative_prompt": negatives,
            "num_inference_steps": first.steps,
            "guidance_scale": first.guidance_scale,
            "generator": generators,
            "callback_on_step_end": on_step_end,
            "callback_on_step_end_tensor_inputs": ["latents"],
            "output_type": "pil",
        }
        if init_images:
            call.update(image=init_images, strength=first.init_strength)
        else:
            call.update(width=first.width, height=first.height)
        vae = getattr(pipe, "vae", None)
        if vae is not None and hasattr(vae, "enable_tiling"):
            if first.width * first.height > entry.speedups.vae_tiling_above:
                vae.enable_tiling()
            else:
                vae.disable_tiling()
        with _out_of_memory_translated():
            images = pipe(**call).images
        scheduler_name = type(pipe.scheduler).__name__

    results = []
    for spec, row in zip(specs, offsets, strict=True):
        results.append(
            GenerationResult(
                images=list(images[row : row + spec.num_images]),
                seeds=[spec.seed + i for i in range(spec.num_images)],
                scheduler=scheduler_name,
                device=entry.choice.device,
                dtype=entry.choice.dtype,
                diffusers_version=diffusers.__version__,
                torch_version=torch.__version__,
                model_revision=entry.revision,
                rows=padded,
            )
        )
    return results


def _scheduler(entry: _LoadedModel, name: str) -> Any:
    """A fresh scheduler for one call, from the model's own scheduler configuration.

    Fresh every time so no state (timesteps, step index) leaks from one call to the next, and
    switching back to the default needs no bookkeeping.
    """
    scheduler_class = entry.scheduler_class
    if name and name != scheduler_class.__name__:
        if name not in entry.compatible_schedulers:
            raise InvalidSpecError(
                f"scheduler {name!r} does not fit this model; choose one of "
                f"{', '.join(sorted(entry.compatible_schedulers))}"
            )
        scheduler_class = entry.compatible_schedulers[name]
    config = dict(entry.scheduler_config)
    if scheduler_class.__name__ == "PNDMScheduler":
        # PLMS, as Stable Diffusion's own configuration and A1111's "PLMS" run it. From
        # another scheduler's configuration (no such key) PNDM would default to its
        # Runge-Kutta warm-up, which fails outright below 4 steps.
        config.setdefault("skip_prk_steps", True)
    return scheduler_class.from_config(config)


def _decode_init_image(data: bytes, width: int, height: int) -> Image:
    """Decode an init image and bring it to width x height.

    `ImageOps.fit` scales and centre-crops, so a picture of another aspect ratio is not
    squashed; the pipeline then paints at exactly width x height.
    """
    from PIL import Image as PILImage
    from PIL import ImageOps, UnidentifiedImageError

    try:
        with PILImage.open(io.BytesIO(data)) as opened:
            image = ImageOps.exif_transpose(opened).convert("RGB")
    except (UnidentifiedImageError, OSError) as exc:
        raise InvalidSpecError(f"init_image is not a readable image: {exc}") from exc
    return ImageOps.fit(image, (width, height), PILImage.Resampling.LANCZOS)


def _preview_size(width: int, height: int) -> tuple[int, int]:
    scale = min(1.0, PREVIEW_MAX_SIDE / max(width, height))
    return max(1, round(width * scale)), max(1, round(height * scale))


class _Previewer:
    """Turns one latent into preview bytes, or None: a preview never fails a generation.

    Whatever goes wrong (a pipeline whose latents are not (C, h, w), a projection that does
    not fit them), that step just has no preview; the first failure is logged, not every step.
    """

    def __init__(self, projection: _Projection | None, size: tuple[int, int]) -> None:
        self.projection = projection
        self.size = size
        self.failed = False

    def __call__(self, latent: Any) -> bytes | None:
        try:
            return _latent_preview(latent, self.projection, self.size)
        except Exception:
            if not self.failed:
                self.failed = True
                logger.warning(
                    "No live preview for latents of shape %s; painting goes on without one",
                    tuple(getattr(latent, "shape", ())),
                    exc_info=True,
                )
            return None


def _latent_preview(
    latent: Any,
    projection: _Projection | None,
    size: tuple[int, int],
) -> bytes:
    """JPEG bytes of one latent (C, h, w) projected to RGB and scaled to `size`.

    The latents of early steps are mostly noise with a large spread, so those previews are
    coloured static that settles into the picture; that is the honest state of the image.
    """
    from PIL import Image as PILImage

    torch = sys.modules["torch"]
    latent = latent.detach().float()
    if projection is not None:
        factors, bias = projection
        weight = torch.tensor(factors, device=latent.device)
        rgb = torch.einsum("chw,cr->hwr", latent, weight) + torch.tensor(bias, device=latent.device)
    else:
        # Unknown latent space (not a 4-channel SD VAE): show the first three channels,
        # normalised, which still tracks the composition.
        rgb = latent[:3].permute(1, 2, 0)
        rgb = (rgb - rgb.mean()) / (rgb.std() + 1e-6) * 0.5
    pixels = ((rgb + 1) * 127.5).clamp(0, 255).round().to(torch.uint8).cpu().numpy()
    image = PILImage.fromarray(pixels, "RGB").resize(size, PILImage.Resampling.BILINEAR)
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=PREVIEW_JPEG_QUALITY)
    return buffer.getvalue()


# --------------------------------------------------------------------------------------------
# Download
# --------------------------------------------------------------------------------------------
def _files_to_download(files: Sequence[str]) -> list[str]:
    """The files of a diffusers repo that `from_pretrained` needs, without duplicates.

    Repos ship the same weights several times (a root single-file checkpoint, .bin and
    .safetensors, fp16 variants, ONNX, Flax); per component folder this keeps the plain
    safetensors, else the plain .bin, else whatever weights there are, plus small files.
    """
    keep: list[str] = []
    weights: dict[str, list[str]] = {}
    for name in files:
        folder, _, filename = name.rpartition("/")
        if not folder:
            if filename == "model_index.json":
                keep.append(name)
            continue
        if filename.endswith(_WEIGHT_SUFFIXES):
            weights.setdefault(folder, []).append(filename)
        elif filename.endswith((".json", ".txt", ".model")):
            keep.append(name)
    for folder, names in weights.items():
        # A variant ("model.fp16.safetensors") has a dot before the extension; a shard
        # ("model-00001-of-00002.safetensors") does not.
        plain = [n for n in names if "." not in n.rsplit(".", 1)[0]]
        chosen = (
            [n for n in plain if n.endswith(".safetensors")]
            or [n for n in plain if n.endswith(".bin")]
            or names
        )
        keep += [f"{folder}/{n}" for n in chosen]
    return sorted(keep)


def download_model(source: str, revision: str = "", progress: bool = True) -> str:
    """Download hub model `source` into the Hugging Face cache and return its local folder.

    A local folder is returned as it is. Shows a tqdm progress bar unless `progress` is False.
    When the hub cannot be reached, a complete copy already in the cache is returned;
    otherwise `ModelUnavailableError` says so.
    """
    if _is_local(source):
        return str(Path(source).expanduser())
    if _looks_like_path(source):
        raise ModelUnavailableError(f"model folder {source!r} does not exist")
    from huggingface_hub import HfApi, constants, snapshot_download
    from huggingface_hub.errors import (
        GatedRepoError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )
    from huggingface_hub.utils import tqdm as hub_tqdm

    class QuietTqdm(hub_tqdm):  # type: ignore[misc,valid-type]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            kwargs["disable"] = True
            super().__init__(*args, **kwargs)

    where = f"{source}@{revision}" if revision else source
    tqdm_class = hub_tqdm if progress else QuietTqdm
    try:
        if constants.is_offline_mode():
            raise ConnectionError("HF_HUB_OFFLINE is set")
        files = HfApi().list_repo_files(source, revision=revision or None)
    except (GatedRepoError, RepositoryNotFoundError, RevisionNotFoundError) as exc:
        raise ModelUnavailableError(f"{where} is not on the Hugging Face hub: {exc}") from exc
    except Exception as exc:  # network errors come from several libraries
        try:
            return snapshot_download(
                source, revision=revision or None, local_files_only=True, tqdm_class=tqdm_class
            )
        except Exception:
            raise ModelUnavailableError(
                f"cannot reach the Hugging Face hub to download {where} ({exc}), and it is not "
                "in the local cache. Download it on a machine with network access and set "
                "the model source to that folder."
            ) from exc
    return snapshot_download(
        source,
        revision=revision or None,
        allow_patterns=_files_to_download(files),
        tqdm_class=tqdm_class,
    )
