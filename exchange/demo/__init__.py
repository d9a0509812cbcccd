"""The demo city of ``exchange demo``: synthetic agency exports with a known ground truth.

>>> truth = generate_city(Path("demo/landing"), persons=1000)   # doctest: +SKIP
>>> truth.write(Path("demo/truth.json"))                         # doctest: +SKIP
"""

from __future__ import annotations

from exchange.demo.city import DEFAULT_SEED, generate_city
from exchange.demo.sources import demo_sources
from exchange.demo.truth import CityTruth, FeedTruth, SeededDefect

__all__ = ["DEFAULT_SEED", "CityTruth", "FeedTruth", "SeededDefect", "demo_sources", "generate_city"]
