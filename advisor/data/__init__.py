"""Stage 1, data: labelled texts and retrieval pairs read, checked, cleaned, summarised and sampled."""
