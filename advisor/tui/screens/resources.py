"""Step 2 — Resources: what `advisor.machine.probe.probe()` sees; r probes again."""

from __future__ import annotations

from typing import Any, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.widgets import DataTable, Static

from advisor.tui.format import bar, fmt_bytes
from advisor.tui.screens.base import StepScreen
from advisor.tui.widgets import Notice


def resource_rows(res: Any) -> list[tuple[str, str]]:
    """(what, value) rows for the machine table."""
    used = res.ram_total_bytes - res.ram_available_bytes
    rows = [
        ("CPU", str(res.cpu_model)),
        ("Cores", f"{res.physical_cores} physical, {res.logical_cores} logical"),
        (
            "RAM",
            (
                f"{bar(used / res.ram_total_bytes if res.ram_total_bytes else None, 16)} "
                f"{fmt_bytes(res.ram_available_bytes)} free of {fmt_bytes(res.ram_total_bytes)}"
            ),
        ),
        ("Disk", f"{fmt_bytes(res.disk_free_bytes)} free at {res.disk_path}"),
        ("OS", str(res.os)),
        ("Python", str(res.python)),
    ]
    torch = getattr(res, "torch", None)
    if torch is not None:
        rows.append(
            (
                "torch",
                f"{getattr(torch, 'version', '?')}, CUDA {'yes' if getattr(torch, 'cuda_available', False) else 'no'}",
            )
        )
    if not res.gpus:
        rows.append(("GPU", f"none — {res.gpu_error}" if getattr(res, "gpu_error", None) else "none"))
    return rows


def gpu_rows(res: Any) -> list[tuple[str, ...]]:
    rows: list[tuple[str, ...]] = []
    for gpu in res.gpus:
        total, free = gpu.memory_total_bytes, gpu.memory_free_bytes
        frac = (total - free) / total if total and free is not None else None
        util = "–" if gpu.utilization_pct is None else f"{gpu.utilization_pct:.0f} %"
        rows.append(
            (
                str(gpu.index),
                str(gpu.name),
                f"{bar(frac, 12)} {fmt_bytes(free)} free / {fmt_bytes(total)}",
                util,
                str(gpu.compute_capability or "–"),
                str(gpu.driver or "–"),
            )
        )
    return rows


class ResourcesScreen(StepScreen):
    STEP = "resources"
    CSS_PATH = "resources.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [Binding("r", "refresh_probe", "Probe again")]

    def compose_body(self) -> ComposeResult:
        with VerticalScroll():
            yield Static(
                "This machine, as the advisor sees it. Forecasts of time and memory are for it.", classes="intro"
            )
            yield DataTable(id="machine", show_header=False, cursor_type="row", zebra_stripes=True)
            yield Static("GPUs", classes="section", id="gpu-title")
            yield DataTable(id="gpus", cursor_type="row")
            yield Static("", id="profile-line")
        yield Notice(id="probe-notice")

    def on_mount(self) -> None:
        self.query_one("#machine", DataTable).add_columns("what", "value")
        self.query_one("#gpus", DataTable).add_columns("#", "name", "memory", "util", "cc", "driver")
        super().on_mount()

    def action_refresh_probe(self) -> None:
        self.app.refresh_probe()  # type: ignore[attr-defined]

    def sync(self, what: str) -> None:
        if what != "probe":
            return
        st = self.st
        notice = self.query_one("#probe-notice", Notice)
        if st.probing:
            notice.show("probing…")
        elif st.resources_error:
            notice.show(f"probe failed: {st.resources_error}", error=True)
        else:
            notice.show(None)
        res = st.resources
        machine = self.query_one("#machine", DataTable)
        gpus = self.query_one("#gpus", DataTable)
        machine.clear()
        gpus.clear()
        if res is not None:
            for row in resource_rows(res):
                machine.add_row(*row)
            for gpu_row in gpu_rows(res):
                gpus.add_row(*gpu_row)
        has_gpu = res is not None and bool(res.gpus)
        gpus.display = has_gpu
        self.query_one("#gpu-title").display = has_gpu
        line = f"Profile: [b]{st.profile_name or '–'}[/b]"
        if st.suggested_profile:
            line += f" (suggested for this machine: {st.suggested_profile}; change it on step 1)"
        self.query_one("#profile-line", Static).update(line)
