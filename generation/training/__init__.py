"""Training data for the offline model: portraits drawn by code, with captions.

Pure Python, Pillow and numpy; only ``train`` (the training command's engine) uses torch, and
imports it inside its functions.
"""

from generation.training.attributes import STYLES, PortraitAttributes, sample_attributes
from generation.training.captions import attributes_named, caption_corpus, caption_for
from generation.training.dataset import dataset
from generation.training.drawing import contact_sheet, draw_portrait, portrait_regions

__all__ = [
    "STYLES",
    "PortraitAttributes",
    "attributes_named",
    "caption_corpus",
    "caption_for",
    "contact_sheet",
    "dataset",
    "draw_portrait",
    "portrait_regions",
    "sample_attributes",
]
