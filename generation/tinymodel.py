"""A tiny, randomly initialised Stable Diffusion pipeline that the project builds itself.

It exists so that the whole product (queue, worker, live previews, gallery) runs and is tested
without downloading anything: the pictures are coloured noise, but every code path is the one a
real model takes. `build_tiny_model` writes an ordinary diffusers folder with `save_pretrained`,
and `generation.inference.load_pipeline` reads it back through the same `from_pretrained` call
it uses for a real checkpoint, fully offline.

Sizes were chosen to paint in well under a second on a CPU: about 1.9 M parameters, 7 MB on
disk; the VAE has four levels (the usual x8 down-scaling), so a 128 x 128 picture denoises a
16 x 16 latent exactly as a real SD1.x model would. The diffusers test-suite configs have a
two-level VAE (x2 only) and are slow at real picture sizes.

torch, diffusers and transformers are imported inside the functions: importing this module
must stay as cheap as importing `generation.inference`.
"""

from __future__ import annotations

import json
import os
import re
from collections import Counter
from pathlib import Path
from typing import Any

# The tokenizer's byte-pair merges are learnt from this text, so common portrait words become
# single tokens; anything else still tokenizes (byte-level BPE covers every byte).
TOKENIZER_CORPUS = """
a portrait of a woman with red hair, oil painting, highly detailed, soft light
portrait photo of an old man with a beard, studio lighting, 85mm, bokeh
close up face of a young girl smiling, watercolor, pastel colors
a man in a suit, black and white photograph, dramatic shadows
headshot of a person with glasses, natural light, realistic skin, film grain
profile of a child with curly brown hair, charcoal sketch, pencil drawing
an elderly woman wearing a hat, renaissance painting, golden hour, warm tones
a smiling teenager with freckles and blue eyes, digital art, cinematic lighting
self portrait, expressive brush strokes, impressionism, vivid colours, canvas texture
a serious face with green eyes and short blond hair, rim light, dark background
low quality, blurry, deformed, ugly, bad anatomy, extra fingers, watermark, text
"""

# CLIP's own special tokens; CLIPTokenizer also uses <|endoftext|> for padding and unknowns.
BOS_TOKEN = "<|startoftext|>"
EOS_TOKEN = "<|endoftext|>"
TOKENIZER_MAX_LENGTH = 77  # CLIP's context length; SD pipelines pad every prompt to it
NUM_MERGES = 400


def _bytes_to_unicode() -> dict[int, str]:
    """GPT-2/CLIP's reversible map from bytes to printable characters (byte-level BPE)."""
    printable = (
        list(range(ord("!"), ord("~") + 1))
        + list(range(ord("¡"), ord("¬") + 1))
        + list(range(ord("®"), ord("ÿ") + 1))
    )
    codes = printable[:]
    extra = 0
    for byte in range(256):
        if byte not in printable:
            printable.append(byte)
            codes.append(256 + extra)
            extra += 1
    return dict(zip(printable, map(chr, codes), strict=True))


def _learn_merges(corpus: str, num_merges: int) -> tuple[list[str], list[str]]:
    """Learn byte-pair merges from `corpus` in CLIP's layout; returns (tokens, merges).

    Ties between equally frequent pairs are broken by the pair itself, so the result is a pure
    function of the corpus (no dict-ordering or hash-seed dependence).
    """
    byte_chars = _bytes_to_unicode()
    base = list(byte_chars.values())
    # CLIP marks the end of a word with "</w>", so every byte also exists in a word-final form.
    tokens = base + [char + "</w>" for char in base]
    known = set(tokens)
    words: Counter[tuple[str, ...]] = Counter()
    for word in re.findall(r"[a-z]+|[0-9]|[^\sa-z0-9]+", corpus.lower()):
        chars = [byte_chars[b] for b in word.encode("utf-8")]
        chars[-1] += "</w>"
        words[tuple(chars)] += 1

    merges: list[str] = []
    for _ in range(num_merges):
        pairs: Counter[tuple[str, str]] = Counter()
        for word, freq in words.items():
            for pair in zip(word, word[1:], strict=False):
                pairs[pair] += freq
        if not pairs:
            break
        (left, right), _ = max(pairs.items(), key=lambda item: (item[1], item[0]))
        merges.append(f"{left} {right}")
        merged: Counter[tuple[str, ...]] = Counter()
        for word, freq in words.items():
            out: list[str] = []
            i = 0
            while i < len(word):
                if i < len(word) - 1 and word[i] == left and word[i + 1] == right:
                    out.append(left + right)
                    i += 2
                else:
                    out.append(word[i])
                    i += 1
            merged[tuple(out)] += freq
        words = merged
        if left + right not in known:
            tokens.append(left + right)
            known.add(left + right)
    tokens += [BOS_TOKEN, EOS_TOKEN]
    return tokens, merges


def write_clip_tokenizer_files(
    folder: str | Path, corpus: str = TOKENIZER_CORPUS, num_merges: int = NUM_MERGES
) -> int:
    """Write `vocab.json` and `merges.txt` of a small CLIP byte-level BPE tokenizer whose
    merges are learnt from `corpus`.

    Returns the vocabulary size; the text encoder's embedding table must be at least that big.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tokens, merges = _learn_merges(corpus, num_merges)
    vocab = {token: index for index, token in enumerate(tokens)}
    (folder / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8")
    (folder / "merges.txt").write_text(
        "#version: 0.2\n" + "\n".join(merges) + "\n", encoding="utf-8"
    )
    return len(vocab)


def build_tiny_model(folder: str | Path, seed: int = 0) -> Path:
    """Build a tiny random Stable Diffusion (SD1.x layout) pipeline and save it in `folder`.

    The result is deterministic given `seed` (the weights are drawn under a forked RNG, so the
    caller's global torch RNG state is left untouched). Loads offline with
    `inference.load_pipeline(ModelRef(source=str(folder), family="sd"))`. Returns the folder.
    """
    import torch
    from transformers import CLIPTokenizer

    folder = Path(folder)
    tokenizer_dir = folder / "tokenizer"
    vocab_size = write_clip_tokenizer_files(tokenizer_dir)
    # A folder path never reaches the hub; passing local_files_only here would only end up
    # stored in tokenizer_config.json.
    tokenizer = CLIPTokenizer.from_pretrained(tokenizer_dir, model_max_length=TOKENIZER_MAX_LENGTH)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        pipeline = tiny_pipeline(tokenizer, vocab_size, vae_channels=(8, 16, 32, 32))
    save_pipeline(pipeline, folder)
    return folder


def tiny_pipeline(
    tokenizer: Any,
    vocab_size: int,
    vae_channels: tuple[int, ...] = (8, 16, 32, 32),
    scaling_factor: float = 0.18215,
    size: int = 128,
    pooled_text: bool = False,
) -> Any:
    """A StableDiffusionPipeline of the tiny architecture, with freshly initialised weights
    (drawn from torch's global RNG): what `build_tiny_model` saves as it is, and what the
    training command (`generation.training.train`) starts from.

    The VAE has four levels (x8, as in SD1.x) of `vae_channels`; `scaling_factor` is SD1.x's
    by default, so an untrained model's previews use the SD1.x latent projection. `size` is
    the picture side the pipeline paints when asked for no size. `pooled_text` adds to the
    UNet's timestep embedding an attention-pooled summary of the prompt (diffusers'
    `addition_embed_type="text"`, as DeepFloyd IF has): every ResNet block then hears the
    prompt, not only the cross-attention layers, which a UNet this small needs to follow
    words that change the whole picture (a background colour, the time of day, a style).
    StableDiffusionPipeline runs it unchanged: the pooling reads the same text states.
    """
    from diffusers import (
        AutoencoderKL,
        EulerDiscreteScheduler,
        StableDiffusionPipeline,
        UNet2DConditionModel,
    )
    from transformers import CLIPTextConfig, CLIPTextModel

    unet = UNet2DConditionModel(
        sample_size=size // 8,  # latent side: the VAE scales by 8
        in_channels=4,
        out_channels=4,
        down_block_types=("CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"),
        up_block_types=("UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"),
        block_out_channels=(32, 64, 64),
        layers_per_block=1,
        norm_num_groups=8,
        cross_attention_dim=64,
        attention_head_dim=4,
        **(
            {"addition_embed_type": "text", "addition_embed_type_num_heads": 4}
            if pooled_text
            else {}
        ),
    )
    vae = AutoencoderKL(
        in_channels=3,
        out_channels=3,
        latent_channels=4,
        sample_size=size,
        block_out_channels=vae_channels,
        down_block_types=("DownEncoderBlock2D",) * len(vae_channels),
        up_block_types=("UpDecoderBlock2D",) * len(vae_channels),
        layers_per_block=1,
        norm_num_groups=8,
        scaling_factor=scaling_factor,
    )
    text_encoder = CLIPTextModel(
        CLIPTextConfig(
            vocab_size=vocab_size,
            hidden_size=64,
            intermediate_size=128,
            num_hidden_layers=2,
            num_attention_heads=4,
            max_position_embeddings=TOKENIZER_MAX_LENGTH,
            hidden_act="quick_gelu",
            projection_dim=64,
            # The pooled output looks for the eos id; CLIP's defaults (49406/49407) would
            # point outside this small vocabulary.
            bos_token_id=tokenizer.bos_token_id,
            eos_token_id=tokenizer.eos_token_id,
            pad_token_id=tokenizer.pad_token_id,
        )
    )
    scheduler = EulerDiscreteScheduler(  # SD1.5's scheduler configuration
        num_train_timesteps=1000,
        beta_start=0.00085,
        beta_end=0.012,
        beta_schedule="scaled_linear",
        prediction_type="epsilon",
        steps_offset=1,
        timestep_spacing="leading",
    )
    return StableDiffusionPipeline(
        vae=vae,
        text_encoder=text_encoder,
        tokenizer=tokenizer,
        unet=unet,
        scheduler=scheduler,
        safety_checker=None,
        feature_extractor=None,
        image_encoder=None,
        requires_safety_checker=False,
    )


def save_pipeline(pipeline: Any, folder: Path) -> None:
    """`save_pretrained` as safetensors, readable by the user the worker runs as."""
    pipeline.save_pretrained(folder, safe_serialization=True)
    _make_readable(folder)


def _make_readable(folder: Path) -> None:
    """Add read permission for group and others to every file under `folder`.

    safetensors writes weight files with mode 0600 whatever the umask, which breaks a model
    folder built by one user (a build step) and served by another (the worker).
    """
    for path in folder.rglob("*"):
        if path.is_file():
            os.chmod(path, path.stat().st_mode | 0o044)
