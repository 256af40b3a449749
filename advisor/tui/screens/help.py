"""The help screen (?): the steps and every key."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Markdown

HELP = """\
# tune-or-embed

Fine-tune a transformer, or use frozen embeddings with a light head? This app measures
both on **your** data and **this** machine, forecasts the full run, recommends one, and trains it.

| step | what happens | keys |
|---|---|---|
| **1 Goals** | what matters: metric, labels you will have, deadline, latency, weights; the profile | `Ctrl+S` save, `Ctrl+O` load |
| **2 Resources** | CPU, RAM, disk and GPUs as probed | `r` probe again |
| **3 Data** | pick a file (→ accepts the completion), preview, classes, lengths | `Enter` load |
| **4 Benchmark** | micro-benchmarks on a sample, learning curves live | `s` start, `Esc` cancel |
| **5 Advice** | the choice, reasons with numbers, what would flip it, forecasts | `e` report, `p` plan, `r` go to run |
| **6 Run** | train on all data; then try predictions and search; compare the runs finished here on their shared held-out rows | `r` run, `Esc` cancel, `c` compare |
| **Search** | after a retrieval run: the 10 documents of its index nearest each query you type | `Enter` search, `Esc` back, `/` (on 6) reopen |

**Retrieval** (task on step 1): the same steps on (query, relevant document) pairs: a pairs file, a BEIR
folder or `demo:bbc-headlines` (and an optional corpus file) on step 3; BM25, the frozen index and a
contrastive fine-tune benchmarked on step 4; the run indexes the whole collection and opens the search.

Anywhere: `1`–`6` go to a step, `?` this help, `Ctrl+T` dark/light, `q` quit, `Tab` next field,
`Esc` leaves a text box (so the keys above work again). The mouse works too: click the steps on top.

Nothing leaves this machine; models load from local files only.
"""


class HelpScreen(ModalScreen[None]):
    CSS_PATH = "help.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q,question_mark", "dismiss_help", "Close", key_display="esc"),
    ]

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-box"):
            yield Markdown(HELP)

    def action_dismiss_help(self) -> None:
        self.dismiss()
