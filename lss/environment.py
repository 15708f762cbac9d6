"""The run record: what, besides the config and the data, would make a run's numbers differ on another machine.

Every training run logs these as ``lss.env.<name>`` tags (searchable and groupable in MLflow); the analysis prints
them and warns when the runs it compares differ in any.
"""

from __future__ import annotations

import platform
from functools import cache
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import lss

LIBRARIES = ("torch", "lightning", "timm", "mlflow", "numpy", "pydicom")
"""The libraries whose versions can change a run's numbers (kernels, defaults, RNG streams, header parsing)."""


def library_version(name: str) -> str:
    try:
        return version(name)
    except PackageNotFoundError:
        return "absent"


@cache
def cpu_model() -> str:
    """The CPU's marketing name (/proc/cpuinfo on Linux), else what ``platform`` knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


def on_gpu(accelerator: str) -> bool:
    """Whether a Trainer with ``accelerator`` (cpu | gpu | cuda | auto ...) computes on a CUDA GPU here."""
    import torch

    return accelerator in ("auto", "gpu", "cuda") and torch.cuda.is_available()


def device_name(accelerator: str) -> str:
    """What a Trainer with ``accelerator`` computes on: the GPU's name, else the CPU's."""
    import torch

    return torch.cuda.get_device_name(0) if on_gpu(accelerator) else cpu_model()


def environment(accelerator: str) -> dict[str, str]:
    """name -> value of the run record (the commit is logged apart, as MLflow's own tag)."""
    return {
        "lss": lss.__version__,
        "python": platform.python_version(),
        **{name: library_version(name) for name in LIBRARIES},
        "platform": platform.platform(),
        "device": device_name(accelerator),
    }
