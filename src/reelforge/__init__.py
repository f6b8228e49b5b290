"""reelforge: turn a text prompt and a duration into a finished, narrated video, offline first."""

__version__ = "0.1.0"
