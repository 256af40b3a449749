"""Stage 4, forecasts: from what the benchmark measured to each approach's score, time and memory at the full size."""
