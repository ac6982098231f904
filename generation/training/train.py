"""Training the offline model: a tiny Stable Diffusion pipeline, taught by the drawn portraits.

Run through ``python manage.py train_tiny_model`` (see its ``--help``). Three stages, each
resumable from its own checkpoint in the work folder:

1. **Data.** The seeded data set (``generation.training.dataset``) is drawn once and kept as
   uint8 pixels with each portrait's attributes. Captions are not fixed: every time a
   portrait is drawn into a batch it gets a fresh caption from ``caption_for`` (another
   word order, other attributes left out), so the text encoder learns the words, not one
   sentence per picture.
2. **VAE.** The autoencoder (x8, SD1.x's layout, wider than ``build_tiny_model``'s) learns to
   reconstruct the portraits (L1 + MSE, a small KL term). It is then frozen; every portrait's
   posterior is encoded once, and the latent ``scaling_factor`` is measured (1 / the latents'
   standard deviation), as SD did for its own VAE.
3. **UNet and text encoder**, jointly: epsilon prediction on SD1.5's noise schedule, Min-SNR
   weighting (gamma 5, Hang et al. 2023: it converges several times faster on small budgets),
   optionally the error on the head counted more than elsewhere (``face_weight``),
   10 % of captions dropped for classifier-free guidance, and a few replaced by a style's
   negative prompt (the site sends those as the "unconditional" text), an exponential moving
   average of both models' weights kept for the saved pipeline.

The result is an ordinary diffusers folder (``save_pretrained``, safetensors) with
``training.json`` (this configuration, the data recipe, the losses and the versions) and
``latent_rgb.json`` (the latent→RGB projection fitted for this VAE, for live previews).

Everything random is drawn from generators seeded by ``TrainingConfig.seed``; a rerun of a
configuration on the same machine and thread count gives the same weights, and on another
machine the same recipe to within float rounding (CPU kernels differ by thread count).
"""

from __future__ import annotations

import contextlib
import copy
import json
import math
import platform
import random
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import numpy as np

from generation.inference import LATENT_RGB_FILE
from generation.tinymodel import (
    TOKENIZER_MAX_LENGTH,
    save_pipeline,
    tiny_pipeline,
    write_clip_tokenizer_files,
)
from generation.training.attributes import STYLES, PortraitAttributes, sample_attributes
from generation.training.captions import caption_corpus, caption_for
from generation.training.drawing import draw_portrait

DATA_FILE = "data.pt"
TOKENIZER_DIR = "tokenizer"
VAE_CHECKPOINT = "vae.pt"
LATENTS_FILE = "latents.pt"
UNET_CHECKPOINT = "unet.pt"
TRAINING_RECORD = "training.json"


# The settings the VAE stage (and the latents it encodes) depends on.
VAE_FIELDS = frozenset(
    {
        "seed",
        "size",
        "images",
        "tokenizer_merges",
        "vae_channels",
        "vae_steps",
        "vae_batch",
        "vae_crop",
        "vae_lr",
        "vae_kl_weight",
        "warmup",
        "grad_clip",
    }
)


@dataclass(frozen=True)
class TrainingConfig:
    """Everything that decides the weights. The defaults made the shipped model."""

    seed: int = 0
    size: int = 128
    images: int = 8000
    # Enough merges that every word of the captions and the style templates is one token.
    tokenizer_merges: int = 3000
    vae_channels: tuple[int, ...] = (16, 32, 64, 64)
    vae_steps: int = 2400
    vae_batch: int = 16
    # The VAE is convolutional: it learns from crops (aligned to its x8 grid) at a quarter of
    # the cost of whole portraits, and encodes whole ones afterwards.
    vae_crop: int = 64
    vae_lr: float = 1e-3
    vae_kl_weight: float = 1e-6
    unet_steps: int = 6000
    batch: int = 32
    unet_lr: float = 1e-3
    text_lr: float = 1e-3
    weight_decay: float = 1e-2
    warmup: int = 100
    grad_clip: float = 1.0
    caption_dropout: float = 0.1
    negative_caption: float = 0.03
    min_snr_gamma: float = 5.0
    # How much more the noise-prediction error counts on the head (hat to beard, where the
    # face's attributes are drawn) than elsewhere (`head_weights`; 0: an even loss, as the
    # first stage of the shipped weights was trained). For the face's words: the brush
    # textures of the styles, spread over the whole picture, dominate an even loss. The
    # shipped weights' second stage (REFINEMENT, 3) lifted gender, age, hair and hats well
    # above chance (bench/README.md).
    face_weight: float = 0.0
    # And how much more again on the eyes and the mouth (`head_weights`): the expression,
    # the glasses and the eye colour are a few latent pixels there, which the head's
    # weight alone left near chance.
    features_weight: float = 0.0
    # Offset noise (per image and channel, as diffusers' train_text_to_image --noise_offset):
    # SD's schedule leaves 7 % of the picture in the "pure noise" it trains on last, and on a
    # 16 × 16 latent the noise's mean then gives the background colour away; without this
    # the seed, not the words, chose the background. Larger than SD's usual 0.1 because a
    # mean over 256 latent pixels leaks 16 times more than over 4096.
    noise_offset: float = 0.25
    ema_decay: float = 0.999
    # The prompt's pooled summary added to the UNet's timestep embedding (tinymodel.tiny_pipeline).
    pooled_text: bool = True
    checkpoint_every: int = 250

    def __post_init__(self):
        errors = []
        if self.size % 8 or self.size < 32:
            errors.append(f"size must be a multiple of 8 of at least 32, not {self.size}")
        if self.vae_crop % 8 or self.vae_crop < 32:
            errors.append(f"vae_crop must be a multiple of 8 of at least 32, not {self.vae_crop}")
        for name in ("images", "vae_batch", "batch", "tokenizer_merges", "checkpoint_every"):
            if getattr(self, name) < 1:
                errors.append(f"{name} must be at least 1")
        for name in ("vae_steps", "unet_steps", "warmup", "face_weight", "features_weight"):
            if getattr(self, name) < 0:
                errors.append(f"{name} must not be negative")
        if errors:
            raise ValueError("; ".join(errors))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainingConfig:
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        if "vae_channels" in values:
            values["vae_channels"] = tuple(values["vae_channels"])
        return cls(**values)

    def data_recipe(self) -> dict[str, Any]:
        return {
            "generator": "generation.training.dataset",
            "seed": self.seed,
            "images": self.images,
            "size": self.size,
            "captions": "caption_for(attributes, rng), drawn afresh for every use",
            "styles": sorted(STYLES),
        }


# The shipped weights' second stage, a refinement of the defaults' result that counts the
# head three times over (``train_tiny_model --init-from <that folder> --unet-steps 6000
# --face-weight 3 --unet-lr 3e-4 --text-lr 3e-4``): the face's words, which an even loss
# left near chance, are followed much more often (bench/README.md, prompt_adherence.py).
REFINEMENT = {"unet_steps": 6000, "face_weight": 3.0, "unet_lr": 3e-4, "text_lr": 3e-4}
# The third stage, a refinement of the second's result that counts the eyes and the mouth
# seven times over (``--init-from <that folder> --unet-steps 6000 --face-weight 3
# --features-weight 6 --unet-lr 3e-4 --text-lr 3e-4``): the expression, the glasses, the
# beard, the skin and the light, left near chance by the second, now follow the words.
FEATURES_REFINEMENT = {**REFINEMENT, "features_weight": 6.0}


def device_for(requested: str | None = None) -> str:
    import torch

    if requested:
        return requested
    return "cuda" if torch.cuda.is_available() else "cpu"


Progress = Callable[[str], None]


class Trainer:
    """Trains a pipeline into ``out`` from ``config``, keeping its state in ``work``."""

    def __init__(
        self,
        config: TrainingConfig,
        work: Path,
        out: Path,
        device: str = "cpu",
        resume: bool = False,
        say: Progress = print,
        progress_bars: bool = True,
        init_from: Path | None = None,
    ):
        self.config = config
        # A trained pipeline to go on from (``refine``): its VAE and tokenizer are kept, its
        # UNet and text encoder trained further by this configuration's UNet stage.
        self.init_from = Path(init_from) if init_from is not None else None
        self.base_record = _read_record(self.init_from) if self.init_from else None
        self.work = Path(work)
        self.out = Path(out)
        self.device = device
        self.resume = resume
        self.say = say
        self.progress_bars = progress_bars
        self.record: dict[str, Any] = {"stages": {}}

    # ---------------------------------------------------------------------------- helpers
    def _bar(self, total: int, initial: int, desc: str):
        from tqdm.auto import tqdm

        return tqdm(
            total=total, initial=initial, desc=desc, disable=not self.progress_bars, smoothing=0.05
        )

    def _stage_config(self, name: str) -> dict[str, Any]:
        """What a checkpoint depends on: the VAE stage's checkpoints only on the VAE's own
        settings (so a new UNet recipe resumes from a trained VAE), the UNet's on all."""
        config = asdict(self.config)
        if name in (VAE_CHECKPOINT, LATENTS_FILE):
            config = {k: v for k, v in config.items() if k in VAE_FIELDS}
        if self.base_record is not None:  # another starting point: other checkpoints
            config["init_from"] = self.base_record
        return config

    def _checkpoint(self, name: str) -> dict[str, Any] | None:
        import torch

        path = self.work / name
        if not (self.resume and path.exists()):
            return None
        state = torch.load(path, map_location="cpu", weights_only=False)
        if state.get("config") != self._stage_config(name):
            raise ValueError(
                f"{path} was made with another configuration; train without --resume "
                "or with the configuration it records"
            )
        return state

    def _save(self, name: str, state: dict[str, Any]) -> None:
        import torch

        path = self.work / name
        tmp = path.with_suffix(".tmp")
        torch.save({**state, "config": self._stage_config(name)}, tmp)
        tmp.replace(path)  # a crash mid-write never leaves a half checkpoint

    # ------------------------------------------------------------------------------- run
    def run(self) -> Path:
        import torch

        self.work.mkdir(parents=True, exist_ok=True)
        torch.manual_seed(self.config.seed)
        started = time.monotonic()
        images, attributes = self.data()
        if self.init_from is not None:
            tokenizer, vae = self.base_parts()
        else:
            tokenizer = self.tokenizer()
            vae = self.train_vae(images, tokenizer)
        latents, scaling_factor = self.encode(vae, images)
        unet, text_encoder = self.train_unet(latents, attributes, tokenizer, vocab=len(tokenizer))
        self.record["seconds"] = round(time.monotonic() - started, 1)
        return self.save(vae, unet, text_encoder, tokenizer, scaling_factor, images)

    def data(self) -> tuple[Any, list[PortraitAttributes]]:
        """The drawn portraits (uint8, N×3×S×S) and their attributes, drawn or read back."""
        import torch

        config = self.config
        path = self.work / DATA_FILE
        if path.exists():
            state = torch.load(path, map_location="cpu", weights_only=False)
            if state["recipe"] == config.data_recipe():
                self.say(f"Data: {len(state['attributes'])} portraits read from {path}")
                return state["images"], [PortraitAttributes(**a) for a in state["attributes"]]
        rng = random.Random(config.seed)
        attributes = []
        for _ in range(config.images):
            attrs = sample_attributes(rng)
            caption_for(attrs, rng)  # the same stream as dataset(): the same portraits
            attributes.append(attrs)
        images = torch.empty((config.images, 3, config.size, config.size), dtype=torch.uint8)
        bar = self._bar(config.images, 0, "Drawing portraits")
        jobs = ((a, config.size) for a in attributes)
        with contextlib.ExitStack() as stack:
            if config.images >= 256:  # worth starting processes for
                pool = stack.enter_context(get_context("spawn").Pool(_workers()))
                drawn = pool.imap(_draw, jobs, chunksize=32)
            else:
                drawn = map(_draw, jobs)
            for i, pixels in enumerate(drawn):
                images[i] = torch.from_numpy(pixels)
                bar.update()
        bar.close()
        recipe = config.data_recipe()
        torch.save(
            {"recipe": recipe, "images": images, "attributes": [a.as_dict() for a in attributes]},
            path,
        )
        return images, attributes

    def tokenizer(self):
        from transformers import CLIPTokenizer

        folder = self.work / TOKENIZER_DIR
        size = write_clip_tokenizer_files(
            folder,
            corpus=caption_corpus(seed=self.config.seed),
            num_merges=self.config.tokenizer_merges,
        )
        self.record["vocabulary"] = size
        return CLIPTokenizer.from_pretrained(folder, model_max_length=TOKENIZER_MAX_LENGTH)

    def base_parts(self):
        """The tokenizer and the frozen VAE of the pipeline in ``init_from``: the tokenizer
        drawn again from the data recipe (it must be that pipeline's), the VAE built as
        the first stage builds it and given that pipeline's weights, so the saved folder
        is written exactly as a run from scratch writes it."""
        from diffusers import AutoencoderKL
        from transformers import CLIPTokenizer

        tokenizer = self.tokenizer()
        base_tokenizer = CLIPTokenizer.from_pretrained(self.init_from / TOKENIZER_DIR)
        if base_tokenizer.get_vocab() != tokenizer.get_vocab():
            raise ValueError(
                f"{self.init_from}'s tokenizer is not this data recipe's (seed, "
                "tokenizer_merges): train it with the configuration it records"
            )
        base = AutoencoderKL.from_pretrained(self.init_from / "vae")
        vae = self._fresh_pipeline(tokenizer, len(tokenizer), pooled_text=False).vae
        try:
            vae.load_state_dict(base.state_dict())
        except RuntimeError as exc:
            raise ValueError(
                f"{self.init_from}'s VAE has another architecture than this configuration "
                f"(vae_channels): {str(exc).splitlines()[0]}"
            ) from exc
        vae.register_to_config(scaling_factor=base.config.scaling_factor)
        vae.to(self.device).requires_grad_(False).eval()
        self.say(f"Going on from {self.init_from}: its VAE and tokenizer, frozen")
        return tokenizer, vae

    def _base_weights(self, unet, text_encoder) -> None:
        """Load ``init_from``'s UNet and text encoder into the freshly built ones (the same
        architecture, or a clear error)."""
        from diffusers import UNet2DConditionModel
        from transformers import CLIPTextModel

        base_unet = UNet2DConditionModel.from_pretrained(self.init_from / "unet")
        base_text = CLIPTextModel.from_pretrained(self.init_from / "text_encoder")
        try:
            unet.load_state_dict(base_unet.state_dict())
            text_encoder.load_state_dict(base_text.state_dict())
        except RuntimeError as exc:
            raise ValueError(
                f"{self.init_from} has another architecture than this configuration "
                f"(vae_channels, size, pooled_text): {str(exc).splitlines()[0]}"
            ) from exc

    def _fresh_pipeline(
        self,
        tokenizer,
        vocab: int,
        scaling_factor: float = 0.18215,
        pooled_text: bool | None = None,
    ):
        import torch

        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.config.seed)
            return tiny_pipeline(
                tokenizer,
                vocab,
                vae_channels=self.config.vae_channels,
                scaling_factor=scaling_factor,
                size=self.config.size,
                pooled_text=self.config.pooled_text if pooled_text is None else pooled_text,
            )

    # ------------------------------------------------------------------------------- VAE
    def train_vae(self, images, tokenizer):
        import torch
        import torch.nn.functional as F

        config = self.config
        # The VAE starts from the weights the plain tiny pipeline draws, whatever the UNet's
        # recipe: the VAE stage depends on VAE_FIELDS alone, so a new UNet recipe can resume
        # from a trained VAE and a run from scratch still reproduces it.
        vae = self._fresh_pipeline(tokenizer, len(tokenizer), pooled_text=False).vae
        vae.to(self.device)
        optimizer = torch.optim.AdamW(vae.parameters(), lr=config.vae_lr, weight_decay=0.0)
        schedule = _warmup_cosine(optimizer, config.warmup, config.vae_steps)
        generator = torch.Generator().manual_seed(config.seed + 1)
        step, losses = 0, []
        state = self._checkpoint(VAE_CHECKPOINT)
        if state is not None:
            vae.load_state_dict(state["model"])
            optimizer.load_state_dict(state["optimizer"])
            schedule.load_state_dict(state["schedule"])
            generator.set_state(state["generator"])
            step, losses = state["step"], state["losses"]
            self.say(f"VAE: resumed at step {step} of {config.vae_steps}")
        vae.train()
        bar = self._bar(config.vae_steps, step, "VAE")
        while step < config.vae_steps:
            index = torch.randint(len(images), (config.vae_batch,), generator=generator)
            batch = _to_unit(_crop(images[index], config.vae_crop, generator)).to(self.device)
            posterior = vae.encode(batch).latent_dist
            sample = posterior.mean + posterior.std * torch.randn(
                posterior.mean.shape, generator=generator
            ).to(self.device)
            reconstruction = vae.decode(sample).sample
            loss = (
                F.l1_loss(reconstruction, batch)
                + F.mse_loss(reconstruction, batch)
                + config.vae_kl_weight * posterior.kl().mean()
            )
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(vae.parameters(), config.grad_clip)
            optimizer.step()
            schedule.step()
            step += 1
            losses.append(loss.item())
            bar.update()
            bar.set_postfix(loss=f"{_mean(losses[-50:]):.4f}")
            if step % config.checkpoint_every == 0 or step == config.vae_steps:
                self._save(
                    VAE_CHECKPOINT,
                    {
                        "model": vae.state_dict(),
                        "optimizer": optimizer.state_dict(),
                        "schedule": schedule.state_dict(),
                        "generator": generator.get_state(),
                        "step": step,
                        "losses": losses,
                    },
                )
        bar.close()
        vae.eval().requires_grad_(False)
        self.record["stages"]["vae"] = {"steps": step, "final_loss": _mean(losses[-100:])}
        return vae

    def encode(self, vae, images) -> tuple[tuple[Any, Any], float]:
        """Every portrait's posterior (mean, std), and the latent scaling factor."""
        import torch

        state = self._checkpoint(LATENTS_FILE)
        if state is not None:
            self.record["scaling_factor"] = state["scaling_factor"]
            return (state["mean"], state["std"]), state["scaling_factor"]
        means, stds = [], []
        with torch.no_grad():
            for start in range(0, len(images), 64):
                batch = _to_unit(images[start : start + 64]).to(self.device)
                posterior = vae.encode(batch).latent_dist
                means.append(posterior.mean.cpu())
                stds.append(posterior.std.cpu())
        mean, std = torch.cat(means), torch.cat(stds)
        generator = torch.Generator().manual_seed(self.config.seed + 2)
        sampled = mean + std * torch.randn(mean.shape, generator=generator)
        scaling_factor = float(1.0 / sampled.std())
        if self.init_from is not None:  # the scale its UNet was trained on
            scaling_factor = float(vae.config.scaling_factor)
        self._save(LATENTS_FILE, {"mean": mean, "std": std, "scaling_factor": scaling_factor})
        self.record["scaling_factor"] = scaling_factor
        return (mean, std), scaling_factor

    # ------------------------------------------------------------------ UNet + text encoder
    def train_unet(self, latents, attributes, tokenizer, vocab: int):
        import torch
        import torch.nn.functional as F
        from diffusers import DDPMScheduler

        config = self.config
        fresh = self._fresh_pipeline(tokenizer, vocab)
        unet, text_encoder = fresh.unet.to(self.device), fresh.text_encoder.to(self.device)
        if self.init_from is not None:
            self._base_weights(unet, text_encoder)
        ema = [copy.deepcopy(unet).requires_grad_(False), copy.deepcopy(text_encoder)]
        ema[1].requires_grad_(False)
        noise_schedule = DDPMScheduler(
            num_train_timesteps=1000,
            beta_start=0.00085,
            beta_end=0.012,
            beta_schedule="scaled_linear",
            prediction_type="epsilon",
        )
        alphas = noise_schedule.alphas_cumprod.to(self.device)
        snr = alphas / (1 - alphas)
        optimizer = torch.optim.AdamW(
            [
                {"params": unet.parameters(), "lr": config.unet_lr},
                {"params": text_encoder.parameters(), "lr": config.text_lr},
            ],
            weight_decay=config.weight_decay,
        )
        schedule = _warmup_cosine(optimizer, config.warmup, config.unet_steps)
        generator = torch.Generator().manual_seed(config.seed + 3)
        captions = random.Random(config.seed + 4)
        step, losses = 0, []
        state = self._checkpoint(UNET_CHECKPOINT)
        if state is not None:
            unet.load_state_dict(state["unet"])
            text_encoder.load_state_dict(state["text_encoder"])
            ema[0].load_state_dict(state["ema_unet"])
            ema[1].load_state_dict(state["ema_text_encoder"])
            optimizer.load_state_dict(state["optimizer"])
            schedule.load_state_dict(state["schedule"])
            generator.set_state(state["generator"])
            captions.setstate(state["captions"])
            step, losses = state["step"], state["losses"]
            self.say(f"UNet: resumed at step {step} of {config.unet_steps}")
        mean, std = latents
        scaling = self.record["scaling_factor"]
        negatives = sorted({s.negative_prompt for s in STYLES.values() if s.negative_prompt})
        head = head_weights(config.size // 8, config.face_weight, config.features_weight).to(
            self.device
        )
        unet.train()
        text_encoder.train()
        bar = self._bar(config.unet_steps, step, "UNet + text encoder")
        while step < config.unet_steps:
            index = torch.randint(len(mean), (config.batch,), generator=generator)
            noise_latents = torch.randn(mean[index].shape, generator=generator)
            x0 = ((mean[index] + std[index] * noise_latents) * scaling).to(self.device)
            texts = [
                _training_caption(attributes[i], captions, config, negatives)
                for i in index.tolist()
            ]
            ids = tokenizer(
                texts,
                padding="max_length",
                max_length=tokenizer.model_max_length,
                truncation=True,
                return_tensors="pt",
            ).input_ids.to(self.device)
            noise = torch.randn(x0.shape, generator=generator)
            noise += config.noise_offset * torch.randn((*x0.shape[:2], 1, 1), generator=generator)
            noise = noise.to(self.device)
            timesteps = torch.randint(1000, (config.batch,), generator=generator).to(self.device)
            noisy = noise_schedule.add_noise(x0, noise, timesteps)
            predicted = unet(noisy, timesteps, encoder_hidden_states=text_encoder(ids)[0]).sample
            weight = torch.clamp(snr[timesteps], max=config.min_snr_gamma) / snr[timesteps]
            per_item = (F.mse_loss(predicted, noise, reduction="none") * head).mean(dim=(1, 2, 3))
            loss = (per_item * weight).mean()
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(
                [*unet.parameters(), *text_encoder.parameters()], config.grad_clip
            )
            optimizer.step()
            schedule.step()
            step += 1
            _ema_update(ema[0], unet, config.ema_decay, step)
            _ema_update(ema[1], text_encoder, config.ema_decay, step)
            losses.append(per_item.detach().mean().item())
            bar.update()
            bar.set_postfix(loss=f"{_mean(losses[-50:]):.4f}")
            if step % config.checkpoint_every == 0 or step == config.unet_steps:
                self._save(
                    UNET_CHECKPOINT,
                    {
                        "unet": unet.state_dict(),
                        "text_encoder": text_encoder.state_dict(),
                        "ema_unet": ema[0].state_dict(),
                        "ema_text_encoder": ema[1].state_dict(),
                        "optimizer": optimizer.state_dict(),
                        "schedule": schedule.state_dict(),
                        "generator": generator.get_state(),
                        "captions": captions.getstate(),
                        "step": step,
                        "losses": losses,
                    },
                )
        bar.close()
        self.record["stages"]["unet"] = {"steps": step, "final_loss": _mean(losses[-100:])}
        return ema[0].eval(), ema[1].eval()

    # ------------------------------------------------------------------------------ save
    def save(self, vae, unet, text_encoder, tokenizer, scaling_factor: float, images) -> Path:
        vae.register_to_config(scaling_factor=scaling_factor)
        pipeline = self._fresh_pipeline(tokenizer, len(tokenizer), scaling_factor)
        pipeline.register_modules(vae=vae, unet=unet, text_encoder=text_encoder)
        pipeline.to("cpu")
        self.out.mkdir(parents=True, exist_ok=True)
        save_pipeline(pipeline, self.out)
        factors, bias = fit_latent_rgb(vae.to("cpu"), images, scaling_factor, self.config.seed)
        (self.out / LATENT_RGB_FILE).write_text(
            json.dumps({"factors": factors, "bias": bias}, indent=2) + "\n", encoding="utf-8"
        )
        self.record.update(config=asdict(self.config), data=self.config.data_recipe())
        if self.base_record is not None:
            # The recipe of what this run started from, so the chain can be trained again.
            self.record["init_from"] = self.base_record
        self.record["versions"] = _versions()
        self.record["device"] = self.device
        (self.out / TRAINING_RECORD).write_text(
            json.dumps(self.record, indent=2, sort_keys=True) + "\n", encoding="utf-8"
        )
        return self.out


def _read_record(folder: Path) -> dict[str, Any]:
    """A trained pipeline's ``training.json``: what ``--init-from`` records as its start."""
    path = Path(folder) / TRAINING_RECORD
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ValueError(
            f"{folder} has no {TRAINING_RECORD}: --init-from takes a folder this command saved"
        ) from None


def fit_latent_rgb(vae, images, scaling_factor: float, seed: int = 0):
    """Least-squares map from a scaled latent pixel (4 channels) to the mean colour of the
    8×8 block it encodes, in [-1, 1]: the live preview's projection for this VAE."""
    import torch
    import torch.nn.functional as F

    generator = torch.Generator().manual_seed(seed)
    index = torch.randperm(len(images), generator=generator)[:512]
    with torch.no_grad():
        pixels = _to_unit(images[index])
        latents = vae.encode(pixels).latent_dist.mean * scaling_factor
        colours = F.avg_pool2d(pixels, 8)
    x = latents.permute(0, 2, 3, 1).reshape(-1, 4)
    x = torch.cat([x, torch.ones(len(x), 1)], dim=1)
    y = colours.permute(0, 2, 3, 1).reshape(-1, 3)
    solution = torch.linalg.lstsq(x, y).solution
    factors = [[round(float(v), 4) for v in row] for row in solution[:4]]
    bias = [round(float(v), 4) for v in solution[4]]
    return factors, bias


def head_weights(side: int, face_weight: float, features_weight: float = 0.0):
    """A ``side`` × ``side`` map of loss weights, ``1 + face_weight`` on the head (and
    ``features_weight`` more on the band of the eyes and the mouth) and 1 elsewhere, scaled
    to a mean of 1 (so the loss, its clipping and the learning rate keep their scale).

    Every drawn portrait has its head in the same place (``drawing._Layout``: centred, the
    widest face 0.46 of the picture across, a hat from 0.07 down, a beard to 0.78), so one
    ellipse around that region serves them all.
    """
    import torch

    centres = (torch.arange(side, dtype=torch.float32) + 0.5) / side
    y, x = torch.meshgrid(centres, centres, indexing="ij")
    head = ((x - 0.5) / 0.30) ** 2 + ((y - 0.43) / 0.40) ** 2 <= 1
    # The eyes (0.48 down) to the mouth (about 0.62), the glasses' frames included.
    features = ((x - 0.5) / 0.22) ** 2 + ((y - 0.55) / 0.12) ** 2 <= 1
    weights = 1 + face_weight * head.float() + features_weight * features.float()
    return weights / weights.mean()


def _training_caption(attrs, rng: random.Random, config: TrainingConfig, negatives: list[str]):
    draw = rng.random()
    if draw < config.caption_dropout:
        return ""
    if draw < config.caption_dropout + config.negative_caption and negatives:
        return rng.choice(negatives)
    return caption_for(attrs, rng)


def _draw(job: tuple[PortraitAttributes, int]) -> np.ndarray:
    attrs, size = job
    return np.asarray(draw_portrait(attrs, size)).transpose(2, 0, 1).copy()


def _workers() -> int:
    import os

    return max(1, min(8, os.cpu_count() or 1))


def _crop(pixels, side: int, generator):
    """One random ``side``×``side`` window of the batch, on the VAE's 8-pixel grid."""
    import torch

    size = pixels.shape[-1]
    if side >= size:
        return pixels
    y, x = (8 * torch.randint((size - side) // 8 + 1, (2,), generator=generator)).tolist()
    return pixels[..., y : y + side, x : x + side]


def _to_unit(pixels):
    return pixels.float() / 127.5 - 1.0


def _mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else float("nan")


def _warmup_cosine(optimizer, warmup: int, total: int):
    import torch

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        progress = (step - warmup) / max(1, total - warmup)
        return 0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def _ema_update(ema, model, decay: float, step: int) -> None:
    import torch

    rate = min(decay, (1 + step) / (10 + step))
    with torch.no_grad():
        for average, current in zip(ema.parameters(), model.parameters(), strict=True):
            average.lerp_(current, 1 - rate)
        for average, current in zip(ema.buffers(), model.buffers(), strict=True):
            average.copy_(current)


def _versions() -> dict[str, str]:
    import diffusers
    import torch
    import transformers

    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "diffusers": diffusers.__version__,
        "transformers": transformers.__version__,
        "threads": str(torch.get_num_threads()),
    }
