"""Forecasts and resources for recommend() tests (test support for test_recommend.py and test_settle.py)."""

from __future__ import annotations

from advisor.forecast.accuracy import Forecast


def fc(approach, value, half=0.02, t=60.0, lat=1.0, mem=None, projection=None, flagged=False, n=1000):
    """A forecast for ``approach`` at ``value`` ± ``half``, ``t`` s to train, ``lat`` ms per text."""
    return Forecast(
        approach=approach,
        n_target=n,
        metric="accuracy",
        value=value,
        low=None if value is None else value - half,
        high=None if value is None else value + half,
        method="log-linear" if value is not None else "none",
        flagged=flagged,
        flag_reason="flat" if flagged else "",
        train_time_s=t,
        peak_memory_bytes=mem,
        infer_ms_per_text=lat,
        infer_ms_per_text_batch=lat / 4,
        projection=projection or [],
    )


class Res:
    """Resources with 8 GB of free RAM and no GPU."""

    ram_available_bytes = 8_000_000_000
    gpus: tuple = ()
