"""The demo data generator's public names, kept here for existing imports (the code is ``shoprec.demo``)."""

from shoprec.demo import SCALES, GenerationStats, Scale, generate

__all__ = ["SCALES", "GenerationStats", "Scale", "generate"]
