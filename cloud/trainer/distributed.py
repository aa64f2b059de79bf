"""Data-parallel training across processes and machines.

torchrun sets RANK / WORLD_SIZE / MASTER_ADDR / MASTER_PORT (env:// rendezvous). A Vertex AI job
whose container does not set them gives each replica `CLUSTER_SPEC` instead: the first worker
pool is the chief (rank 0), the second holds the other workers, and the chief's address is the
rendezvous. gloo on CPU, nccl on GPUs. A single process needs none of it.

`python -m trainer.distributed` prints what CLUSTER_SPEC gives, for a test.
"""

import datetime
import json
import os
import sys

import torch
import torch.distributed as dist

# Pools of replicas that train; Vertex AI's third and fourth pools (reduction server, evaluators)
# do not, and AI Platform's older specs name the pools chief / master / worker.
TRAINING_POOLS = (("workerpool0", "chief", "master"), ("workerpool1", "worker"))


def env_from_cluster_spec(text):
    """MASTER_ADDR, MASTER_PORT, WORLD_SIZE and RANK for this replica, from Vertex's CLUSTER_SPEC.

    Returns None for a replica that is not one of the training pools. Raises ValueError when
    the spec cannot be read.
    """
    try:
        spec = json.loads(text)
        cluster, task = spec["cluster"], spec["task"]
        kind, index = task["type"], int(task.get("index", 0))
    except (ValueError, KeyError, TypeError) as e:
        raise ValueError("CLUSTER_SPEC is not Vertex AI's cluster description (%s)" % e)
    hosts = []
    rank = None
    for names in TRAINING_POOLS:
        pool = next((cluster[n] for n in names if n in cluster), [])
        if kind in names:
            rank = len(hosts) + index
        hosts.extend(pool)
    if rank is None:
        return None
    if not hosts or rank >= len(hosts):
        raise ValueError("CLUSTER_SPEC names replica %s %d but lists %d training hosts" % (kind, index, len(hosts)))
    addr, _, port = hosts[0].rpartition(":")
    if not addr or not port.isdigit():
        raise ValueError('CLUSTER_SPEC: chief address "%s" is not host:port' % hosts[0])
    return {"MASTER_ADDR": addr, "MASTER_PORT": port, "WORLD_SIZE": str(len(hosts)), "RANK": str(rank)}


class Context:
    """This process's place in the run: rank, world size, device; collectives are no-ops alone."""

    def __init__(self, rank=0, world=1, local_rank=0):
        self.rank = rank
        self.world = world
        self.enabled = world > 1
        cuda = torch.cuda.is_available()
        self.device = torch.device("cuda", local_rank % max(1, torch.cuda.device_count())) if cuda else torch.device("cpu")
        if cuda:
            torch.cuda.set_device(self.device)
        self.backend = "nccl" if cuda else "gloo"

    @property
    def is_chief(self):
        return self.rank == 0

    def sum(self, values):
        """Element-wise sum over all processes of a list of numbers (one collective)."""
        t = torch.tensor(values, dtype=torch.float64, device=self.device)
        if self.enabled:
            dist.all_reduce(t)
        return t.tolist()

    def sum_tensor(self, t):
        if self.enabled:
            t = t.to(self.device)
            dist.all_reduce(t)
        return t

    def gather_objects(self, obj):
        """Every process's `obj`, in rank order."""
        if not self.enabled:
            return [obj]
        out = [None] * self.world
        dist.all_gather_object(out, obj)
        return out

    def gather_rows(self, local, n):
        """Rows computed round-robin (row i on process i % world) as the full [n, ...] tensor on every process."""
        if not self.enabled:
            return local
        per = -(-n // self.world)
        padded = torch.zeros((per,) + tuple(local.shape[1:]), dtype=local.dtype, device=self.device)
        padded[: local.shape[0]] = local.to(self.device)
        parts = [torch.empty_like(padded) for _ in range(self.world)]
        dist.all_gather(parts, padded)
        # Row i sits at parts[i % world][i // world]: interleave the parts back.
        return torch.stack(parts, 1).reshape((per * self.world,) + tuple(local.shape[1:]))[:n]

    def broadcast_buffers(self, module):
        """BatchNorm statistics from rank 0, so every process validates and saves the same model."""
        if self.enabled:
            for b in module.buffers():
                dist.broadcast(b.data, 0)

    def close(self):
        if self.enabled and dist.is_initialized():
            dist.destroy_process_group()


def setup(environ=os.environ):
    """Joins the run's process group when there is more than one process; None for a replica
    outside the training pools (it has nothing to do)."""
    if int(environ.get("WORLD_SIZE", "1") or "1") <= 1 and environ.get("CLUSTER_SPEC"):
        derived = env_from_cluster_spec(environ["CLUSTER_SPEC"])
        if derived is None:
            return None
        if int(derived["WORLD_SIZE"]) > 1:
            environ.update(derived)
    world = int(environ.get("WORLD_SIZE", "1") or "1")
    if world <= 1:
        return Context()
    ctx = Context(int(environ["RANK"]), world, int(environ.get("LOCAL_RANK", "0")))
    dist.init_process_group(ctx.backend, init_method="env://", rank=ctx.rank, world_size=world,
                            timeout=datetime.timedelta(minutes=30))
    return ctx


if __name__ == "__main__":
    print(json.dumps(env_from_cluster_spec(sys.argv[1] if len(sys.argv) > 1 else os.environ["CLUSTER_SPEC"])))
