"""Our worker's images/s against the plain-diffusers reference, on the same GPU in the same run.

    python bench/gpu_worker.py [--reference ../shared/bench/sd_reference_bench.py]
    python bench/gpu_worker.py --smoke        # the whole thing on CPU, tiny sizes, 2 steps

The reference module (``shared/bench/sd_reference_bench.py``, no project code) builds the
full-size SD1.5-architecture pipeline with random weights; it is saved with ``save_pretrained``
and loaded back through OUR path, ``generation.inference`` (``from_pretrained``, the worker's
device/dtype choice, a fresh scheduler per call, per-image generators, live previews). Then, in
this process, with the same torch settings:

- ours: ``generate`` one image per call (progress callback off and on), ``num_images=4`` per
  call (a job's maximum), ``generate_batch`` of 2 x 4 and 8 x 1 compatible specs (8 images);
- the reference's own call (``gen_call``) at batch 1, 4 and 8, timed the same way;
- the reference's own ``time_variant`` (its published protocol), and with ``--reference-process``
  also the reference script as its own process (``--only sd15 --no-compile``; it sets
  ``cudnn.benchmark`` and TF32, which the worker does not).

The progress callback does what the worker does per step apart from the database and the
channel layer (measured by ``job_latency.py``): base64 of the preview and a JSON event. Prints a
table, ``RESULT {json}`` and writes ``bench/results/gpu_worker-<date>.json``.

``--stream`` adds, in the same run, a stream through the real worker: ``--members`` members
(16) submit ``--jobs`` jobs (64, one image each, the same recipe but prompt and seed) with
``services.job_submit`` on a site of its own (the embedded default: its Celery worker thread,
the ``memory://`` broker, SQLite, local storage, C2PA signing, the in-memory channel layer),
once with cross-member batching (``GENERATION_BATCH_MAX_IMAGES`` 8) and once without (1). It
reports images/s from the first submission to the last job stored and signed, p50/p99 submit
→ done (the jobs' ``created_at`` → ``finished_at``), how the jobs were batched, peak GPU memory
and the GPU's utilisation sampled every 100 ms (``torch.cuda.utilization``, where pynvml is
installed). ``--stream-arch sd15,sdxl`` streams both architectures (1024² for SDXL);
``--stream-model FOLDER`` streams a model folder of one's own instead (the demo model on CPU:
``--smoke --stream --stream-model generation/weights/likeness-portraits --size 128 --steps 20``).
"""

from __future__ import annotations

import argparse
import base64
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_REFERENCE = ROOT.parent / "shared" / "bench" / "sd_reference_bench.py"
RESULTS_DIR = ROOT / "bench" / "results"
GUIDANCE = 7.0
SEED = 1000
BATCH = 8  # images in the batched call (SD1.5 at 512² on one GPU)
PER_JOB = 4  # a job's maximum num_images


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def load_reference(path: Path) -> ModuleType:
    """Import the reference benchmark from its file (it is not a package)."""
    spec = importlib.util.spec_from_file_location("sd_reference_bench", path)
    if spec is None or spec.loader is None:
        raise SystemExit(f"cannot import the reference benchmark {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def synchronize(device: str) -> None:
    import torch

    if device.startswith("cuda"):
        torch.cuda.synchronize()


def progress_callback(event: Any) -> None:
    """The worker's per-step work without database and channel layer."""
    preview = base64.b64encode(event.preview).decode("ascii")
    json.dumps(
        {
            "type": "progress",
            "step": event.step,
            "total": event.total,
            "eta_seconds": 1.0,
            "preview": f"data:{event.preview_mime};base64,{preview}",
        }
    )


class Bench:
    """Times our path and the reference's call on the same pipeline weights."""

    def __init__(self, reference: ModuleType, args: argparse.Namespace, folder: Path) -> None:
        from generation import inference

        self.inference = inference
        self.reference = reference
        self.args = args
        self.model = inference.ModelRef(source=str(folder), family="sd")
        self.samples: dict[str, list[float]] = {}
        self.images: dict[str, int] = {}

    def spec(self, num_images: int, seed: int, steps: int) -> Any:
        return self.inference.GenerationSpec(
            model=self.model,
            prompt=self.reference.PROMPT,
            negative_prompt=self.reference.NEG,
            seed=seed,
            steps=steps,
            guidance_scale=GUIDANCE,
            width=self.args.size,
            height=self.args.size,
            num_images=num_images,
        )

    def ours(self, layout: tuple[int, ...], calls: int, callback: bool) -> Callable[[int], int]:
        """One call paints len(layout) specs of layout[i] images each; `calls` calls a run."""
        inference = self.inference
        on_step = (lambda _index, event: progress_callback(event)) if callback else None

        def run(steps: int) -> int:
            for call in range(calls):
                specs = [
                    self.spec(n, SEED + 100 * call + 10 * i, steps) for i, n in enumerate(layout)
                ]
                if len(specs) == 1:
                    inference.generate(specs[0], on_step=progress_callback if callback else None)
                else:
                    inference.generate_batch(specs, on_step)
            return sum(layout) * calls

        return run

    def theirs(self, pipe: Any, batch: int, calls: int) -> Callable[[int], int]:
        def run(steps: int) -> int:
            for call in range(calls):
                self.reference.gen_call(
                    pipe, batch, self.args.size, steps, SEED + 100 * call, self.args.device
                )
            return batch * calls

        return run

    def measure(self, name: str, run: Callable[[int], int], warm: bool) -> None:
        """Time one run of `name` (after a short warm-up at the same shapes the first time)."""
        device = self.args.device
        if warm:
            run(self.args.warmup_steps)
        synchronize(device)
        start = time.perf_counter()
        images = run(self.args.steps)
        synchronize(device)
        self.samples.setdefault(name, []).append(time.perf_counter() - start)
        self.images[name] = images

    def rows(self) -> dict[str, dict[str, float]]:
        out = {}
        for name, seconds in self.samples.items():
            median = statistics.median(seconds)
            out[name] = {
                "images": self.images[name],
                "runs": len(seconds),
                "median_s": round(median, 3),
                "images_per_s": round(self.images[name] / median, 3),
                "s_per_image": round(median / self.images[name], 4),
            }
        return out


def reference_own_timing(reference: ModuleType, pipe: Any, args: argparse.Namespace) -> list[dict]:
    """The reference's `time_variant` (its protocol: seq of batch-1 calls, one batched call)."""
    before = len(reference.RESULTS)
    namespace = argparse.Namespace(steps=args.steps, warmup_steps=args.warmup_steps, budget_s=1e9)
    reference.time_variant(
        pipe, "sd15", "eager", namespace, args.device, args.size, args.seq_n, args.batch
    )
    return reference.RESULTS[before:]


def reference_process(path: Path, smoke: bool) -> list[dict]:
    """The reference script as its own process, as its README runs it."""
    command = [sys.executable, str(path), "--only", "sd15", "--no-compile", "--no-breakdown"]
    if smoke:
        command.append("--smoke")
    done = subprocess.run(command, capture_output=True, text=True, timeout=900)
    results = [
        json.loads(line[len("RESULT ") :])
        for line in done.stdout.splitlines()
        if line.startswith("RESULT ")
    ]
    if done.returncode != 0:
        results.append({"error": f"rc={done.returncode}", "stderr": done.stderr[-1500:]})
    return results


def environment(device: str) -> dict[str, Any]:
    import diffusers
    import torch

    info: dict[str, Any] = {
        "device": device,
        "torch": torch.__version__,
        "diffusers": diffusers.__version__,
        "torch_threads": torch.get_num_threads(),
        "cudnn_benchmark": torch.backends.cudnn.benchmark,
        "cpus": os.cpu_count(),
        "load": [round(x, 2) for x in os.getloadavg()],
    }
    if device.startswith("cuda"):
        info["gpu"] = torch.cuda.get_device_name(0)
    return info


def ratios(ours: dict[str, dict], theirs: dict[str, dict]) -> dict[str, float]:
    """ours images/s ÷ reference images/s, for the same number of images per call."""
    pairs = {
        "b1_no_callback": ("ours b1 (no callback)", "ref b1"),
        "b1_callback": ("ours b1 (callback)", "ref b1"),
        "num_images4_callback": ("ours num_images=4 (callback)", "ref b4"),
        "batch8_2x4_callback": ("ours generate_batch 2x4 (callback)", "ref b8"),
        "batch8_2x4_no_callback": ("ours generate_batch 2x4 (no callback)", "ref b8"),
        "batch8_8x1_callback": ("ours generate_batch 8x1 (callback)", "ref b8"),
    }
    table = {**ours, **theirs}
    return {
        key: round(table[a]["images_per_s"] / table[b]["images_per_s"], 3)
        for key, (a, b) in pairs.items()
        if a in table and b in table
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reference", type=Path, default=DEFAULT_REFERENCE)
    parser.add_argument("--smoke", action="store_true", help="CPU, the reference's tiny configs")
    parser.add_argument("--steps", type=int, default=None, help="default 25 (smoke: 2)")
    parser.add_argument("--size", type=int, default=None, help="default 512 (smoke: 64)")
    parser.add_argument("--warmup-steps", type=int, default=2)
    parser.add_argument("--seq-n", type=int, default=None, help="batch-1 calls (8; smoke 2)")
    parser.add_argument("--repeats", type=int, default=None, help="runs per figure (3; smoke 1)")
    parser.add_argument("--reference-process", action="store_true", help="also run it alone")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR)
    parser.add_argument("--stream", action="store_true", help="also the stream (docstring)")
    parser.add_argument("--stream-arch", default="sd15", help="sd15, sdxl or sd15,sdxl")
    parser.add_argument("--stream-model", type=Path, help="stream this SD1.x model folder instead")
    parser.add_argument("--members", type=int, default=16)
    parser.add_argument("--jobs", type=int, default=None, help="stream jobs (64; smoke 8)")
    args = parser.parse_args()
    args.batch = BATCH

    sys.path.insert(0, str(ROOT))
    import torch

    if args.smoke:
        args.device, dtype = "cpu", torch.float32
        defaults = {"steps": 2, "size": 64, "seq_n": 2, "repeats": 1, "jobs": 8}
    else:
        if not torch.cuda.is_available():
            raise SystemExit("CUDA is not available (use --smoke for the CPU check)")
        args.device, dtype = "cuda", torch.float16
        defaults = {"steps": 25, "size": 512, "seq_n": 8, "repeats": 3, "jobs": 64}
    for key, value in defaults.items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    os.environ["LIKENESS_DEVICE"] = args.device

    reference = load_reference(args.reference.resolve())
    started = datetime.now(UTC)
    results: dict[str, Any] = {
        "benchmark": "gpu_worker",
        "date": started.isoformat(timespec="seconds"),
        "smoke": args.smoke,
        "reference": str(args.reference),
        "args": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
    }
    with tempfile.TemporaryDirectory(prefix="likeness-gpu-bench-") as tmp:
        log("building the reference SD1.5 pipeline (random weights)")
        pipe, params = reference.build("sd15", args.smoke, args.device, dtype)
        folder = Path(tmp) / "sd15"
        pipe.save_pretrained(folder)
        results["params_m"] = params
        bench = Bench(reference, args, folder)
        load_start = time.perf_counter()
        bench.inference.load_pipeline(bench.model)
        results["our_load_s"] = round(time.perf_counter() - load_start, 2)

        ours = {
            "ours b1 (no callback)": bench.ours((1,), args.seq_n, callback=False),
            "ours b1 (callback)": bench.ours((1,), args.seq_n, callback=True),
            "ours num_images=4 (callback)": bench.ours((PER_JOB,), BATCH // PER_JOB, True),
            "ours generate_batch 2x4 (callback)": bench.ours((PER_JOB, PER_JOB), 1, True),
            "ours generate_batch 2x4 (no callback)": bench.ours((PER_JOB, PER_JOB), 1, False),
            "ours generate_batch 8x1 (callback)": bench.ours((1,) * BATCH, 1, True),
        }
        theirs = {
            "ref b1": bench.theirs(pipe, 1, args.seq_n),
            "ref b4": bench.theirs(pipe, PER_JOB, BATCH // PER_JOB),
            "ref b8": bench.theirs(pipe, BATCH, 1),
        }
        runs = {**ours, **theirs}
        for repeat in range(args.repeats):
            for name, run in runs.items():  # interleaved, so drift hits both sides alike
                bench.measure(name, run, warm=repeat == 0)
                log(f"{name}: {bench.samples[name][-1]:.3f} s")
        rows = bench.rows()
        results["ours"] = {k: v for k, v in rows.items() if k.startswith("ours")}
        results["reference_same_harness"] = {k: v for k, v in rows.items() if k.startswith("ref")}
        results["ratio_ours_over_reference"] = ratios(
            results["ours"], results["reference_same_harness"]
        )
        if args.device == "cuda":
            results["peak_memory_gb"] = round(torch.cuda.max_memory_allocated() / 2**30, 2)
        log("the reference's own time_variant")
        results["reference_time_variant"] = reference_own_timing(reference, pipe, args)
        del pipe
        bench.inference.clear_pipeline_cache()
        if args.stream:
            StreamSite(Path(tmp) / "site", args.device)
            results["stream"] = []
            archs = args.stream_arch.split(",") if not args.stream_model else ["model"]
            for arch in archs:
                if arch == "model":  # a model folder of one's own (the demo model on CPU)
                    arch_folder, size = args.stream_model.resolve(), args.size
                elif arch == "sd15":
                    arch_folder, size = folder, args.size
                else:
                    log(f"building the reference {arch} pipeline (random weights)")
                    other, _ = reference.build(arch, args.smoke, args.device, dtype)
                    arch_folder = Path(tmp) / arch
                    other.save_pretrained(arch_folder)
                    del other
                    size = 64 if args.smoke else 1024
                log(f"stream {arch}: {args.jobs} jobs from {args.members} members")
                results["stream"].append(stream(args, arch_folder, arch, size))
                log(f"stream {arch}: {results['stream'][-1]}")
    if args.reference_process:
        log("the reference script as its own process")
        results["reference_process"] = reference_process(args.reference.resolve(), args.smoke)
    results["environment"] = environment(args.device)
    results["duration_s"] = round((datetime.now(UTC) - started).total_seconds(), 1)
    report(results)
    args.out.mkdir(parents=True, exist_ok=True)
    suffix = "-smoke" if args.smoke else ""
    path = args.out / f"gpu_worker-{started:%Y%m%d-%H%M%S}{suffix}.json"
    path.write_text(json.dumps(results, indent=2) + "\n")
    print("RESULT " + json.dumps(results, separators=(",", ":")))
    log(f"written {path}")


class StreamSite:
    """A Likeness site of its own for the stream: migrated, with development signing keys,
    Django set up in this process and its embedded worker thread started."""

    def __init__(self, root: Path, device: str) -> None:
        self.root = root
        env = {
            "LIKENESS_DATA_DIR": str(root / "data"),
            "C2PA_SIGNING_KEY": str(root / "c2pa" / "signer.key"),
            "C2PA_SIGNING_CERTS": str(root / "c2pa" / "chain.pem"),
            "GENERATION_SUBMIT_RATE": "1000000/hour",
            "LIKENESS_DEVICE": device,
        }
        for name in ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "MEDIA_ROOT"):
            os.environ.pop(name, None)
        os.environ.update(env, DJANGO_SETTINGS_MODULE="config.settings")
        for command in (["migrate", "--noinput"], ["c2pa_dev_certs", "--dir", str(root / "c2pa")]):
            subprocess.run(
                [sys.executable, "manage.py", *command],
                cwd=ROOT,
                env=os.environ.copy(),
                check=True,
                stdout=subprocess.DEVNULL,
            )
        import django

        django.setup()
        from django.conf import settings

        from config.worker import start_inprocess_worker

        settings.GENERATION_MAX_ACTIVE_JOBS = 1_000_000
        start_inprocess_worker()


class GpuSampler:
    """The GPU's utilisation (%), sampled every 100 ms from a thread while it runs."""

    def __init__(self, device: str) -> None:
        import threading

        self.samples: list[int] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(device,), daemon=True)

    def _run(self, device: str) -> None:
        import torch

        if not device.startswith("cuda"):
            return
        while not self._stop.wait(0.1):
            try:
                self.samples.append(int(torch.cuda.utilization()))
            except Exception:  # no pynvml: utilisation is not reported
                return

    def __enter__(self) -> GpuSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._thread.join()

    def summary(self) -> dict[str, Any] | None:
        if not self.samples:
            return None
        return {
            "mean_percent": round(statistics.mean(self.samples), 1),
            "samples": len(self.samples),
        }


def stream(args: argparse.Namespace, folder: Path, arch: str, size: int) -> dict[str, Any]:
    """The stream through the real worker, batching on then off (see the module docstring)."""
    import torch
    from django.conf import settings
    from django.contrib.auth import get_user_model

    from generation import inference, services
    from generation.models import GenerationJob

    slug = f"bench-{arch}"
    services.model_register(
        name=f"Bench {arch}",
        slug=slug,
        source=str(folder),
        family="sdxl" if arch == "sdxl" else "sd",
        limits={
            "default_steps": args.steps,
            "max_steps": max(args.steps, 50),
            "default_width": size,
            "default_height": size,
            "max_width": max(size, 1024),
            "max_height": max(size, 1024),
        },
        keep_existing=False,
    )
    members = [
        get_user_model().objects.get_or_create(username=f"member{i}")[0]
        for i in range(args.members)
    ]
    out: dict[str, Any] = {"arch": arch, "size": size, "steps": args.steps, "jobs": args.jobs}

    def run(max_images: int) -> dict[str, Any]:
        settings.GENERATION_BATCH_MAX_IMAGES = max_images
        if args.device.startswith("cuda"):
            torch.cuda.reset_peak_memory_stats()
        spec = {"model": slug, "steps": args.steps, "width": size, "height": size}
        spec["guidance_scale"] = GUIDANCE
        start = time.time()
        with GpuSampler(args.device) as sampler:
            ids = [
                services.job_submit(
                    user=members[i % len(members)],
                    spec={**spec, "prompt": f"portrait {i} of a sailor", "seed": SEED + i},
                ).pk
                for i in range(args.jobs)
            ]
            jobs = GenerationJob.objects.filter(pk__in=ids)
            while jobs.filter(status__in=GenerationJob.ACTIVE_STATUSES).exists():
                time.sleep(0.05)
        rows = list(jobs.values("status", "created_at", "finished_at", "batch_id", "batch_jobs"))
        last = max(row["finished_at"] for row in rows).timestamp()
        latencies = sorted((r["finished_at"] - r["created_at"]).total_seconds() for r in rows)
        result = {
            "max_images_per_call": max_images,
            "succeeded": sum(row["status"] == "succeeded" for row in rows),
            "seconds": round(last - start, 3),
            "images_per_s": round(len(rows) / (last - start), 3),
            "p50_s": round(latencies[len(latencies) // 2], 3),
            "p99_s": round(latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))], 3),
            "pipeline_calls": len({row["batch_id"] for row in rows}),
            "gpu_utilisation": sampler.summary(),
        }
        if args.device.startswith("cuda"):
            result["peak_memory_gb"] = round(torch.cuda.max_memory_allocated() / 2**30, 2)
        return result

    # One job first: the worker loads (and, with LIKENESS_COMPILE, compiles) the pipeline.
    warm = args.jobs
    args.jobs = 1
    run(1)
    args.jobs = warm
    out["batched"] = run(BATCH)
    out["one_per_call"] = run(1)
    out["ratio_batched_over_one_per_call"] = round(
        out["batched"]["images_per_s"] / out["one_per_call"]["images_per_s"], 3
    )
    inference.clear_pipeline_cache()
    return out


def report(results: dict[str, Any]) -> None:
    lines = [f"{'mode':<44} {'images':>6} {'median s':>9} {'img/s':>8}", "-" * 70]
    for section in ("ours", "reference_same_harness"):
        for name, row in results[section].items():
            lines.append(
                f"{name:<44} {row['images']:>6} {row['median_s']:>9.3f} {row['images_per_s']:>8.3f}"
            )
    for row in results["reference_time_variant"] + results.get("reference_process", []):
        if "images_per_s" in row:
            label = f"reference {row.get('variant')} {row.get('mode')}"
            lines.append(
                f"{label:<44} {row['images']:>6} {row['total_s']:>9.3f} {row['images_per_s']:>8.3f}"
            )
    lines.append("ours / reference (images/s): " + json.dumps(results["ratio_ours_over_reference"]))
    for result in results.get("stream", []):
        for mode in ("batched", "one_per_call"):
            row = result[mode]
            lines.append(
                f"stream {result['arch']} {result['size']}² {mode:<13} {row['succeeded']:>3} jobs "
                f"{row['images_per_s']:>8.3f} img/s  p50 {row['p50_s']} s  p99 {row['p99_s']} s  "
                f"{row['pipeline_calls']} calls  GPU {row['gpu_utilisation']}"
            )
        lines.append(
            f"stream {result['arch']}: batched / one per call = "
            f"{result['ratio_batched_over_one_per_call']}"
        )
    print("\n".join(lines))


if __name__ == "__main__":
    main()
