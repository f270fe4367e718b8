"""Process-group handling for ``torchrun`` launches; every helper is a no-op in a single process.

``torchrun --nproc_per_node=N`` sets ``WORLD_SIZE``, ``RANK`` and ``LOCAL_RANK`` (plus ``MASTER_ADDR`` /
``MASTER_PORT``); without ``WORLD_SIZE`` (or with 1) the run is a plain single process.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, TypeVar

import torch
import torch.distributed as dist

T = TypeVar("T")

#: Collective timeout: rank 0 evaluates the whole validation set while the others wait at a barrier.
TIMEOUT = timedelta(hours=2)


@dataclass(frozen=True)
class DistInfo:
    world_size: int = 1
    rank: int = 0
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def detect() -> DistInfo:
    """Rank layout from the torchrun environment (single process when ``WORLD_SIZE`` is absent or 1)."""
    world = int(os.environ.get("WORLD_SIZE", "1") or 1)
    if world <= 1:
        return DistInfo()
    rank = int(os.environ.get("RANK", "0"))
    local = int(os.environ.get("LOCAL_RANK", str(rank)))
    if not 0 <= rank < world:
        raise ValueError(f"RANK={rank} is outside WORLD_SIZE={world}")
    return DistInfo(world, rank, local)


def init(device_type: str = "cpu") -> tuple[DistInfo, bool]:
    """Join the process group if the environment asks for one. Backend gloo for CPU, nccl for CUDA (the
    current CUDA device is set to ``LOCAL_RANK`` first). Returns the layout and whether this call created
    the group (then :func:`cleanup` should destroy it)."""
    info = detect()
    if not info.enabled:
        return info, False
    if device_type == "cuda":
        torch.cuda.set_device(info.local_rank)
    if dist.is_initialized():
        if dist.get_world_size() != info.world_size or dist.get_rank() != info.rank:
            raise RuntimeError("an existing process group does not match WORLD_SIZE / RANK")
        return info, False
    backend = "nccl" if device_type == "cuda" else "gloo"
    kwargs: dict[str, Any] = {"backend": backend, "timeout": TIMEOUT, "world_size": info.world_size, "rank": info.rank}
    if backend == "nccl":
        kwargs["device_id"] = torch.device("cuda", info.local_rank)
    dist.init_process_group(**kwargs)
    return info, True


def active() -> bool:
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def rank() -> int:
    return dist.get_rank() if active() else 0


def world_size() -> int:
    return dist.get_world_size() if active() else 1


def is_main() -> bool:
    """True on rank 0, and in a single process."""
    return rank() == 0


def barrier() -> None:
    if active():
        if dist.get_backend() == "nccl":
            dist.barrier(device_ids=[torch.cuda.current_device()])
        else:
            dist.barrier()


def all_reduce_sum(tensor: torch.Tensor) -> torch.Tensor:
    """Sum ``tensor`` over all ranks, in place (and returned)."""
    if active():
        dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
    return tensor


def sum_loss_and_count(loss_sum: torch.Tensor | float, count: torch.Tensor | float, device: torch.device) -> tuple[float, float]:
    """Global (sum of per-sample losses, number of samples) over all ranks."""
    t = torch.stack([torch.as_tensor(loss_sum, dtype=torch.float64, device=device).reshape(()),
                     torch.as_tensor(count, dtype=torch.float64, device=device).reshape(())])  # fmt: skip
    all_reduce_sum(t)
    return float(t[0]), float(t[1])


def broadcast_object(obj: T, src: int = 0) -> T:
    """``obj`` from rank ``src`` on every rank (pickled; fine for metrics and checkpoints)."""
    if not active():
        return obj
    box = [obj if rank() == src else None]
    device = torch.device("cuda", torch.cuda.current_device()) if dist.get_backend() == "nccl" else None
    dist.broadcast_object_list(box, src=src, device=device)
    return box[0]  # type: ignore[return-value]


def cleanup(created: bool = True) -> None:
    """Destroy the process group (only when this side ``created`` it)."""
    if created and dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()
