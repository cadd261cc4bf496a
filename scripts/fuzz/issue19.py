"""The fuzz families of issue 19, run by scripts/fuzz/fuzz.py (`--families multifile,streams,fifos,png,unetnull,scripts`).

  multifile  SIGKILL/SIGTERM/SIGINT at random moments of commands that write several files into a folder that holds
             the previous run's files (convergence, merge, guide, cost-accuracy, make-pipeline, train's checkpoints).
             After a SIGKILL the next run into the folder is made (it finishes a journaled commit); then the folder
             must hold the old run's files or the new run's, all of them, never a mix (data loss), a train checkpoint
             must have weights and optimizer state of one step, and no temporary may be left.
  streams    closed and full stdout, stderr, stdin for failing and succeeding commands: never a crash; a failure still
             exits non-zero; a success whose stdout cannot be written exits non-zero; a closed or full stderr alone
             does not change the outcome.
  fifos      a FIFO for every input file option and every file a command reads from a folder: a clean error at once.
  png        PNG files declaring oversized or invalid images (IHDR) as --target/--mask: a clean error, in bounded memory.
  unetnull   each UNet config field set to null or left out, compared with what diffusers' UNet2DModel does with
             None or its default (the same output as the equivalent config, or an error naming the field).
  scripts    shell arguments of scripts/slurm/sweep.sh (against stub sbatch/squeue/scancel) and the other scripts'
             option parsing: decimal numbers, missing values, the array range equal to the tasks' shard count.
"""
import csv
import io
import json
import os
import re
import shutil
import signal
import stat
import struct
import subprocess
import time
import zlib

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FIXTURE = os.path.join(ROOT, "Tests/NeuralCoreTests/Fixtures/unet-small")
MILD = os.path.join(ROOT, "examples/studies/mild-3d.json")
SIGNALS = [signal.SIGKILL, signal.SIGTERM, signal.SIGINT]


def normalized(folder):
    """Every non-hidden file under `folder` (relative path -> bytes), wall times masked: a CSV's wall_time_s column,
    and 'N s' / 'N.N s' phrases of the Markdown summaries."""
    out = {}
    for base, dirs, files in os.walk(folder):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        for f in files:
            if f.startswith("."):
                continue
            path = os.path.join(base, f)
            rel = os.path.relpath(path, folder)
            data = open(path, "rb").read()
            if f.endswith(".csv"):
                rows = list(csv.reader(io.StringIO(data.decode("utf-8", "replace"))))
                if rows and "wall_time_s" in rows[0]:
                    k = rows[0].index("wall_time_s")
                    for r in rows[1:]:
                        if len(r) > k:
                            r[k] = "<wall>"
                data = "\n".join(",".join(r) for r in rows).encode()
            elif f.endswith(".md"):
                data = re.sub(rb"[0-9][0-9.e+-]* s\b", b"<t> s", data)
            out[rel] = data
    return out


def hidden_leftovers(folder):
    """Temporaries (.NAME.PID.tmp, .partial, .commit-journal) beside or inside `folder`, recursively inside."""
    found = []
    parent = os.path.dirname(folder.rstrip("/"))
    name = os.path.basename(folder.rstrip("/"))
    for f in os.listdir(parent):
        if f.startswith("." + name + ".") and f.endswith(".tmp"):
            found.append(os.path.join(parent, f))
    if os.path.isdir(folder):
        for base, dirs, files in os.walk(folder):
            for f in dirs + files:
                if f.endswith(".tmp") or f.endswith(".partial") or f == ".commit-journal":
                    found.append(os.path.join(base, f))
    return found


def png(width, height, depth, color, interlace=0, idat=b""):
    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xffffffff)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, depth, color, 0, 0, interlace))
            + chunk(b"IDAT", zlib.compress(idat)) + chunk(b"IEND", b""))


def safetensors(path, tensors):
    """tensors: name -> (shape, list of floats), written F32."""
    header, body = {}, b""
    for name, (shape, values) in tensors.items():
        chunk = struct.pack("<%df" % len(values), *values)
        header[name] = {"dtype": "F32", "shape": shape, "data_offsets": [len(body), len(body) + len(chunk)]}
        body += chunk
    text = json.dumps(header).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    open(path, "wb").write(struct.pack("<Q", len(text)) + text + body)


class Issue19:
    """Mixed into Fuzzer: uses its run(), record(), fresh(), rng, bin, work, env, timeout."""

    def plain(self, args, cwd=None, stdout=subprocess.PIPE):
        p = subprocess.run(["timeout", "-s", "KILL", str(self.timeout), self.bin] + args, stdout=stdout,
                           stderr=subprocess.PIPE, env=self.env, cwd=cwd or self.work)
        return p

    def setup19(self):
        """The tiny pipeline (with target.png, mask.png), z, and reference runs, made once."""
        if getattr(self, "_setup19", False):
            return
        self._setup19 = True
        self.pipe = os.path.join(self.work, "pipe")
        self.plain(["make-pipeline", "--layout", "tiny", "--out", self.pipe, "--example-images"])
        self.zfile = os.path.join(self.work, "z.safetensors")
        safetensors(self.zfile, {"z": ([32], [0.1] * 32)})
        self.shard_root = os.path.join(self.work, "one-shard")
        self.plain(["convergence", "--config", MILD, "--steps", "5,10", "--seeds", "1", "--reference-tolerance", "1e-8",
                    "--shard", "0/1", "--out", self.shard_root])

    # ------------------------------------------------------------------------------------------ multifile

    def multifile_cases(self):
        """Each case: (name, make the old state in a folder, the new run's arguments, the folder to check, kind)."""
        w = self.work
        conv = lambda steps, out: ["convergence", "--config", MILD, "--name", "s", "--steps", steps, "--seeds", "1",
                                   "--reference-tolerance", "1e-8", "--out", out]
        guide = lambda steps, out: ["guide", "--pipeline", self.pipe, "--z", self.zfile, "--target",
                                    os.path.join(self.pipe, "target.png"), "--sampler-steps", "3", "--steps", steps,
                                    "--threads", "1", "--out", out]
        return {
            "convergence": (lambda out: conv("5,10", out), lambda out: conv("5,10,20", out)),
            "guide": (lambda out: guide("1", out), lambda out: guide("2", out)),
            "cost-accuracy": (lambda out: ["cost-accuracy", "--csv", os.path.join(w, "ref-convergence-old", "s.csv"), "--steps", "5", "--out", out],
                              lambda out: ["cost-accuracy", "--csv", os.path.join(w, "ref-convergence-new", "s.csv"), "--steps", "5,10", "--out", out]),
        }

    def family_multifile(self, n):
        fam = "multifile kills"
        self.setup19()
        cases = self.multifile_cases()
        # reference outputs of the old and the new run of each command, and its duration
        refs, durations = {}, {}
        for name, (old, new) in cases.items():
            for tag, make in (("old", old), ("new", new)):
                d = os.path.join(self.work, f"ref-{name}-{tag}")
                t0 = time.time()
                p = self.plain(make(d))
                if tag == "new":
                    durations[name] = max(0.05, time.time() - t0)
                if p.returncode != 0:
                    self.notes.append(f"multifile: reference run {name}/{tag} failed: {p.stderr.decode()[-200:]}")
                refs[(name, tag)] = normalized(d)
            again = os.path.join(self.work, f"ref-{name}-again")
            self.plain(new(again))
            if normalized(again) != refs[(name, "new")]:
                self.notes.append(f"multifile: {name} is not reproducible run to run; its files are compared by name only")
                refs[(name, "names-only")] = True
        # merge: the shards of the new convergence run in a folder that holds the old merged files
        shards = os.path.join(self.work, "ref-shards")
        conv_new = cases["convergence"][1]
        for i in range(2):
            self.plain(conv_new(shards)[:-2] + ["--shard", f"{i}/2", "--out", shards])
        make_pipe_ref = os.path.join(self.work, "ref-make-pipeline")
        self.plain(["make-pipeline", "--layout", "tiny", "--seed", "3", "--out", make_pipe_ref])
        refs[("make-pipeline", "new")] = normalized(make_pipe_ref)
        # the merge's own reference: the old files plus the shards, merged once cleanly
        merge_ref = os.path.join(self.work, "ref-merge")
        shutil.copytree(os.path.join(self.work, "ref-convergence-old"), merge_ref)
        shutil.copytree(os.path.join(shards, "shards"), os.path.join(merge_ref, "shards"))
        t0 = time.time()
        p = self.plain(["merge", merge_ref])
        durations["merge"] = max(0.05, time.time() - t0)
        if p.returncode != 0:
            self.notes.append(f"multifile: reference merge failed: {p.stderr.decode()[-200:]}")
        refs[("merge", "new")] = {k: v for k, v in normalized(merge_ref).items() if not k.startswith("shards/")}
        t0 = time.time()
        self.plain(["make-pipeline", "--layout", "tiny", "--seed", "3", "--out", os.path.join(self.work, "ref-mp-timing")])
        durations["make-pipeline"] = max(0.05, time.time() - t0)
        train_base = ["train", "--data", os.path.join(ROOT, "examples/network/image-mixture.json"), "--model-config",
                      os.path.join(ROOT, "examples/network/unet-small.json"), "--batch", "1", "--threads", "1"]
        train_start = os.path.join(self.work, "ref-train")
        self.plain(train_base + ["--steps", "1", "--out", train_start])
        t0 = time.time()
        t_probe = os.path.join(self.work, "ref-train-probe")
        shutil.copytree(train_start, t_probe)
        self.plain(train_base + ["--steps", "3", "--checkpoint-every", "1", "--resume", "--out", t_probe])
        durations["train"] = max(0.1, time.time() - t0)

        names = ["convergence", "guide", "cost-accuracy", "merge", "make-pipeline", "train"]
        for i in range(n):
            name = names[i % len(names)]
            sig = SIGNALS[(i // len(names)) % 3]
            # most kills land in the second half of the run, where the files are written and committed (a run that
            # finishes first is an accepted case, not a kill)
            delay = durations[name] * (self.rng.uniform(0.5, 1.05) if self.rng.random() < 0.75 else self.rng.uniform(0.0, 0.5))
            d = self.fresh("mf")
            target = os.path.join(d, "out")
            old_state, new_state = None, None
            if name in cases:
                old, new = cases[name]
                shutil.copytree(os.path.join(self.work, f"ref-{name}-old"), target)
                args = new(target)
                old_state, new_state = refs[(name, "old")], refs[(name, "new")]
            elif name == "merge":
                shutil.copytree(os.path.join(self.work, "ref-convergence-old"), target)
                shutil.copytree(os.path.join(shards, "shards"), os.path.join(target, "shards"))
                args = ["merge", target]
                old_state, new_state = refs[("convergence", "old")], refs[("merge", "new")]
            elif name == "make-pipeline":
                args = ["make-pipeline", "--layout", "tiny", "--seed", "3", "--out", target]
                old_state, new_state = {}, refs[("make-pipeline", "new")]
            else:
                shutil.copytree(train_start, target)
                args = train_base + ["--steps", "3", "--checkpoint-every", "1", "--resume", "--out", target]
            outcome, _, detail = self.run(args, kill=(delay, sig), output_kind="text")
            killed = outcome == "killed"
            if killed:
                self.kills += 1
                if sig == signal.SIGKILL:
                    # the next run into the folder (it fails on its missing input, after opening the folder)
                    self.plain(["cost-accuracy", "--csv", os.path.join(d, "none.csv"), "--out", target])
            left = hidden_leftovers(target)
            loss = False
            if name == "train":
                loss = not self.checkpoint_consistent(target)
            else:
                state = normalized(target) if os.path.isdir(target) else {}
                if name == "merge":
                    state = {k: v for k, v in state.items() if not k.startswith("shards/")}
                if refs.get((name, "names-only")):
                    ok = set(state) in (set(old_state), set(new_state))
                else:
                    ok = state == old_state or state == new_state
                if not killed and outcome == "accepted":
                    ok = ok and (state == new_state or refs.get((name, "names-only")) is not None)
                loss = not ok
            if outcome in ("killed", "accepted", "clean error"):
                outcome = "clean error" if killed else outcome
            self.record(fam, "data loss" if loss else outcome, bool(left),
                        args + [f"(signal {signal.Signals(sig).name} after {delay:.2f} s)"],
                        detail + (" leftovers: " + ", ".join(left) if left else ""))
            shutil.rmtree(d, ignore_errors=True)

    def checkpoint_consistent(self, folder):
        """Weights and optimizer state present and stamped with the same step (or no checkpoint file changed at all)."""
        steps = []
        for f in ("diffusion_pytorch_model.safetensors", "optimizer_state.safetensors"):
            path = os.path.join(folder, f)
            if not os.path.exists(path):
                return False
            try:
                data = open(path, "rb").read()
                n = struct.unpack("<Q", data[:8])[0]
                steps.append(json.loads(data[8:8 + n]).get("__metadata__", {}).get("step"))
            except Exception:
                return False
        return steps[0] is not None and steps[0] == steps[1]

    # ------------------------------------------------------------------------------------------ streams

    def family_streams(self, n):
        fam = "standard streams"
        self.setup19()
        example = os.path.join(ROOT, "examples/mixture-3d.json")
        commands = [
            ("usage error", ["gradient", "--bad"], "fails", False),
            ("missing file", ["gradient", "--config", "/nonexistent.json"], "fails", False),
            ("json to stdout", ["gradient", "--config", example, "--solver", "adjointdeis-1"], "succeeds", True),
            ("progress on stderr", ["convergence", "--config", MILD, "--steps", "5,10", "--reference-tolerance", "1e-8", "--out", "{out}"], "succeeds", True),
            ("help", ["convergence", "--help"], "succeeds", True),
        ]
        setups = ["1>&-", "1>/dev/full", "2>&-", "2>/dev/full", "0<&-", "1>&- 2>&-", "1>/dev/full 2>/dev/full", "0<&- 1>&- 2>&-"]
        for i in range(n):
            label, args, expect, prints = commands[i % len(commands)]
            setup = setups[(i // len(commands)) % len(setups)]
            d = self.fresh("st")
            args = [a.replace("{out}", os.path.join(d, "out")) for a in args]
            quoted = " ".join("'" + a.replace("'", "'\\''") + "'" for a in [self.bin] + args)
            p = subprocess.run(["timeout", "-s", "KILL", str(self.timeout), "bash", "-c", f"exec {quoted} {setup}"],
                               stdout=subprocess.DEVNULL if "1>" in setup else subprocess.PIPE,
                               stderr=subprocess.DEVNULL if "2>" in setup else subprocess.PIPE, env=self.env, cwd=self.work)
            rc = p.returncode
            stdout_broken = "1>" in setup
            if rc == 137 or rc == -9:
                outcome = "hang"
            elif rc < 0 or rc >= 128:
                outcome = "crash"
            elif expect == "fails":
                outcome = "clean error" if rc != 0 else "wrong result"
            elif stdout_broken and prints:
                outcome = "clean error" if rc != 0 else "wrong result"  # the output was lost: must not exit 0
            else:
                outcome = "accepted" if rc == 0 else "wrong result"
            self.record(fam, outcome, False, [label, setup] + args, (p.stderr or b"").decode("utf-8", "replace"))
            shutil.rmtree(d, ignore_errors=True)

    # ------------------------------------------------------------------------------------------ fifos

    def fifo_cases(self, d, fifo):
        """(label, arguments) for each input given as a FIFO, and folders whose files are FIFOs."""
        self.setup19()
        pipe, z, target = self.pipe, self.zfile, os.path.join(self.pipe, "target.png")
        ex = os.path.join(ROOT, "examples/mixture-3d.json")
        pg = ["gradient", "--pipeline", pipe, "--sampler-steps", "2", "--output", os.path.join(d, "g.safetensors")]
        stats = os.path.join(d, "stats.json")
        json.dump({"mean": [0.0] * 64, "variance": 1.0}, open(stats, "w"))
        cases = [
            ("gradient --config", ["gradient", "--config", fifo]),
            ("gradient --noise", ["gradient", "--config", ex, "--solver", "adjointdeis-1/sde", "--sampler-steps", "4", "--noise", fifo]),
            ("gradient --statistics", ["gradient", "--config", ex, "--solver", "adjointdeis-1", "--linear-part", "gaussian", "--statistics", fifo]),
            ("pipeline --target", pg + ["--z", z, "--target", fifo]),
            ("pipeline --mask", pg + ["--z", z, "--target", target, "--loss", "masked-squared-distance", "--mask", fifo]),
            ("pipeline --z", pg + ["--z", fifo, "--target", target]),
            ("pipeline --x-T", pg + ["--z", z, "--target", target, "--x-T", fifo]),
            ("pipeline --scheduler-config", pg + ["--z", z, "--target", target, "--scheduler-config", fifo]),
            ("pipeline --statistics", pg + ["--z", z, "--target", target, "--solver", "adjointdeis-gl-1", "--statistics", fifo]),
            ("guide --target", ["guide", "--pipeline", pipe, "--z", z, "--target", fifo, "--steps", "1", "--sampler-steps", "2", "--out", os.path.join(d, "gd")]),
            ("guide --statistics", ["guide", "--pipeline", pipe, "--z", z, "--target", target, "--steps", "1", "--sampler-steps", "2",
                                    "--methods", "adjointdeis-gl-1", "--statistics", fifo, "--out", os.path.join(d, "gd")]),
            ("convergence --config", ["convergence", "--config", fifo, "--steps", "5,10", "--out", os.path.join(d, "c")]),
            ("cost-accuracy --csv", ["cost-accuracy", "--csv", fifo, "--out", os.path.join(d, "ca")]),
            ("unet-vjp --inputs", ["unet-vjp", "--model", FIXTURE, "--inputs", fifo, "--output", os.path.join(d, "o.safetensors")]),
            ("train --data", ["train", "--data", fifo, "--model-config", os.path.join(ROOT, "examples/network/unet-small.json"), "--steps", "1", "--out", os.path.join(d, "t")]),
            ("train --model-config", ["train", "--data", os.path.join(ROOT, "examples/network/image-mixture.json"), "--model-config", fifo, "--steps", "1", "--out", os.path.join(d, "t")]),
        ]
        # files inside folders: a copy of the pipeline or the UNet fixture with one file replaced by a FIFO
        for rel in ["model_index.json", "unet/config.json", "unet/diffusion_pytorch_model.safetensors", "scheduler/scheduler_config.json"]:
            cases.append(("pipeline folder " + rel, ("pipe-copy", rel, pg + ["--z", z, "--target", target])))
        for rel in ["shards/0-of-1/runs.csv", "shards/0-of-1/manifest.json", "shards/0-of-1/COMPLETE"]:
            cases.append(("merge " + rel, ("shard-copy", rel, ["merge"])))
        for rel in ["config.json", "diffusion_pytorch_model.safetensors"]:
            cases.append(("unet-vjp model " + rel, ("unet-copy", rel, ["unet-vjp", "--inputs", os.path.join(FIXTURE, "inputs.safetensors"),
                                                                      "--output", os.path.join(d, "o.safetensors")])))
        return cases

    def family_fifos(self, n):
        fam = "FIFO inputs"
        for i in range(n):
            d = self.fresh("fifo")
            fifo = os.path.join(d, "fifo")
            os.mkfifo(fifo)
            cases = self.fifo_cases(d, fifo)
            label, spec = cases[i % len(cases)]
            if isinstance(spec, tuple):
                kind, rel, args = spec
                copy = os.path.join(d, "copy")
                shutil.copytree({"pipe-copy": self.pipe, "unet-copy": FIXTURE, "shard-copy": self.shard_root}[kind], copy)
                os.remove(os.path.join(copy, rel))
                os.mkfifo(os.path.join(copy, rel))
                args = [a.replace(self.pipe, copy) for a in args]
                if kind == "pipe-copy" and "--pipeline" not in args:
                    args += ["--pipeline", copy]
                if kind == "unet-copy":
                    args += ["--model", copy]
                if kind == "shard-copy":
                    args += [copy]
            else:
                args = spec
            outcome, left, detail = self.run(args)
            if outcome == "accepted":
                outcome = "wrong result"  # nothing was ever written into the FIFO
            self.record(fam, outcome, left, [label] + args, detail)
            shutil.rmtree(d, ignore_errors=True)

    # ------------------------------------------------------------------------------------------ png

    def family_png(self, n):
        fam = "oversized PNG"
        self.setup19()
        # the largest accepted side (16384) often: an unbounded decode of those costs gigabytes
        sizes = [0, 1, 7, 8, 9, 64, 4096, 8192, 8192, 16384, 16384, 16384, 16384, 16385, 65535, 2 ** 31 - 1, 2 ** 31, 2 ** 32 - 1]
        kinds = [(8, 0), (16, 0), (1, 0), (8, 2), (16, 2), (8, 3), (8, 4), (16, 4), (8, 6), (16, 6), (3, 2), (8, 5), (32, 6)]
        for i in range(n):
            d = self.fresh("png")
            w, h = self.rng.choice(sizes), self.rng.choice(sizes)
            depth, color = self.rng.choice(kinds)
            interlace = 1 if self.rng.random() < 0.1 else 0
            payload = b"\0" * self.rng.choice([0, 10, 1000, 100000])
            path = os.path.join(d, "x.png")
            open(path, "wb").write(png(w, h, depth, color, interlace, payload))
            role = "--target" if i % 2 == 0 else "--mask"
            args = ["gradient", "--pipeline", self.pipe, "--z", self.zfile, "--sampler-steps", "2", "--output", os.path.join(d, "g.safetensors")]
            args += ["--target", path] if role == "--target" else ["--target", os.path.join(self.pipe, "target.png"),
                                                                  "--loss", "masked-squared-distance", "--mask", path]
            # the peak memory of the run (GNU time): an unbounded decode shows as gigabytes
            cmd = ["/usr/bin/time", "-f", "maxrss_kb=%M"] if os.path.exists("/usr/bin/time") else []
            p = subprocess.run(["timeout", "-s", "KILL", str(self.timeout)] + cmd + [self.bin] + args,
                               capture_output=True, env=self.env, cwd=self.work)
            err = p.stderr.decode("utf-8", "replace")
            m = re.search(r"maxrss_kb=(\d+)", err)
            rss = int(m.group(1)) if m else 0
            err_lines = [l for l in err.splitlines() if not l.startswith(("maxrss_kb=", "Command exited"))]
            last = err_lines[-1] if err_lines else ""
            if p.returncode in (137, -9):
                outcome = "hang"
            elif p.returncode >= 128 or p.returncode < 0 or "Command terminated by signal" in err:
                outcome = "crash"
            elif rss > 400_000:
                outcome = "wrong result"  # decoded before checking: memory grew with the declared size
            elif p.returncode != 0:
                outcome = "clean error" if last.startswith("error: ") else "unclear error"
            else:
                outcome = "wrong result"  # an image with an empty or short IDAT cannot be decoded
            self.record(fam, outcome, False, args + [f"({w}x{h} depth {depth} colour {color}, {rss // 1024} MB)"], last)
            shutil.rmtree(d, ignore_errors=True)

    # ------------------------------------------------------------------------------------------ unetnull

    DIFFUSERS_DEFAULTS = {
        "sample_size": None, "in_channels": 3, "out_channels": 3, "center_input_sample": False,
        "time_embedding_type": "positional", "time_embedding_dim": None, "freq_shift": 0, "flip_sin_to_cos": True,
        "down_block_types": ["DownBlock2D", "AttnDownBlock2D", "AttnDownBlock2D", "AttnDownBlock2D"],
        "up_block_types": ["AttnUpBlock2D", "AttnUpBlock2D", "AttnUpBlock2D", "UpBlock2D"],
        "block_out_channels": [224, 448, 672, 896], "layers_per_block": 2, "mid_block_scale_factor": 1,
        "downsample_padding": 1, "downsample_type": "conv", "upsample_type": "conv", "dropout": 0.0, "act_fn": "silu",
        "attention_head_dim": 8, "norm_num_groups": 32, "attn_norm_num_groups": None, "norm_eps": 1e-5,
        "resnet_time_scale_shift": "default", "add_attention": True, "class_embed_type": None, "num_class_embeds": None,
        "num_train_timesteps": None, "mid_block_type": "UNetMidBlock2D",
    }
    # What diffusers' UNet2DModel does with None (src/diffusers/models/unets/unet_2d.py): "default" (None is the
    # default or replaced by a derived value: compare with the stated equivalent), "false" (a truthiness test),
    # "refuse" (None removes a part, e.g. no mid block, or fails in diffusers).
    NULL_MEANS = {"sample_size": ("same", None), "time_embedding_dim": ("same", None), "attn_norm_num_groups": ("same", None),
                  "class_embed_type": ("same", None), "num_class_embeds": ("same", None), "num_train_timesteps": ("same", None),
                  "attention_head_dim": ("per-block", None),  # one head per block: head dim = the block's channels
                  "flip_sin_to_cos": ("same", False), "center_input_sample": ("same", False), "add_attention": ("same", False)}

    def unet_run(self, d, config):
        model = os.path.join(d, "model-%d" % len(os.listdir(d)))
        os.mkdir(model)
        json.dump(config, open(os.path.join(model, "config.json"), "w"))
        os.symlink(os.path.join(FIXTURE, "diffusion_pytorch_model.safetensors"), os.path.join(model, "diffusion_pytorch_model.safetensors"))
        out = os.path.join(model, "o.safetensors")
        p = self.plain(["unet-vjp", "--model", model, "--inputs", os.path.join(FIXTURE, "inputs.safetensors"), "--output", out,
                        "--dtype", "float64"])
        err = p.stderr.decode("utf-8", "replace").strip().splitlines()
        return (p.returncode, open(out, "rb").read() if p.returncode == 0 and os.path.exists(out) else b"",
                err[-1].replace(model, "<model>") if err else "")

    def family_unetnull(self, n):
        fam = "UNet null/absent"
        base = json.load(open(os.path.join(FIXTURE, "config.json")))
        keys = sorted(self.DIFFUSERS_DEFAULTS)
        for i in range(n):
            key = keys[i % len(keys)]
            variant = "null" if (i // len(keys)) % 2 == 0 else "absent"
            d = self.fresh("un")
            config = dict(base)
            if variant == "null":
                config[key] = None
            else:
                config.pop(key, None)
            got = self.unet_run(d, config)
            if got[0] >= 128 or got[0] < 0:
                outcome = "crash"
            elif variant == "absent":
                expected = self.unet_run(d, dict(base, **{key: self.DIFFUSERS_DEFAULTS[key]}))
                outcome = ("accepted" if got[0] == 0 else "clean error") if got == expected else "wrong result"
            elif key in self.NULL_MEANS:
                how, value = self.NULL_MEANS[key]
                if how == "per-block":
                    # the fixture's attention blocks and mid block all have 16 channels
                    value = 16
                expected = self.unet_run(d, dict(base, **{key: value})) if value is not None or key not in base else self.unet_run(d, {k: v for k, v in base.items() if k != key})
                outcome = ("accepted" if got[0] == 0 else "clean error") if got == expected else "wrong result"
            else:
                outcome = "clean error" if got[0] != 0 and key in got[2] else "wrong result"
            self.record(fam, outcome, False, ["unet-vjp", f"{key}: {variant}"], got[2])
            shutil.rmtree(d, ignore_errors=True)

    # ------------------------------------------------------------------------------------------ scripts

    def family_scripts(self, n):
        fam = "script arguments"
        stub = os.path.join(self.work, "stub")
        os.makedirs(stub, exist_ok=True)
        open(os.path.join(stub, "sbatch"), "w").write('#!/usr/bin/env bash\necho "$*" >> "$STUB_LOG"\necho 42\n')
        for tool in ("squeue", "scancel"):
            open(os.path.join(stub, tool), "w").write("#!/bin/sh\nexit 0\n")
        for tool in ("sbatch", "squeue", "scancel"):
            os.chmod(os.path.join(stub, tool), 0o755)
        numbers = ["1", "2", "8", "08", "010", "0010", "10", "09", "10000", "10001", "0", "-1", "", "1e3", " 3", "3 ", "0x10",
                   "99999999999999999999", "7x", "+4", "\u0663", "4.0", "--out"]
        bash_noise = ("syntax error", "unbound variable", "value too great", "invalid arithmetic", "command not found", "line ")
        for i in range(n):
            d = self.fresh("sw")
            log = os.path.join(d, "log")
            out = os.path.join(d, "out")
            args = []
            shards = self.rng.choice(numbers)
            cpus = self.rng.choice(numbers) if self.rng.random() < 0.4 else None
            order = [("--shards", shards), ("--out", out)] + ([("--cpus", cpus)] if cpus is not None else [])
            self.rng.shuffle(order)
            for opt, value in order:
                args += [opt, value] if self.rng.random() < 0.85 else [f"{opt}={value}"]
            if self.rng.random() < 0.1:
                args = args[:-1]  # the last option without its value
            tail = ["--", "convergence", "--config", MILD] if self.rng.random() < 0.9 else []
            env = dict(self.env, PATH=stub + ":" + self.env.get("PATH", ""), STUB_LOG=log)
            p = subprocess.run(["timeout", "-s", "KILL", str(self.timeout), os.path.join(ROOT, "scripts/slurm/sweep.sh")]
                               + args + ["--binary", self.bin] + tail, capture_output=True, env=env, cwd=d)
            err = p.stderr.decode("utf-8", "replace")
            if p.returncode in (137, -9):
                outcome = "hang"
            elif p.returncode == 0:
                # the array range and the tasks' shard count must both be the decimal value given
                submitted = open(log).read() if os.path.exists(log) else ""
                m = re.search(r"--array=0-(\d+)", submitted)
                task = open(os.path.join(out, "slurm/task.sh")).read() if os.path.exists(os.path.join(out, "slurm/task.sh")) else ""
                t = re.search(r'--shard "\$i/(\d+)"', task)
                want = int(shards.strip(), 10) if re.fullmatch(r"[0-9]+", shards.strip()) else None
                ok = m and t and want is not None and int(m.group(1)) + 1 == int(t.group(1)) == want
                outcome = "accepted" if ok else "wrong result"
            else:
                lines = [l for l in err.splitlines() if l.strip()]
                clean = len(lines) == 1 and lines[0].startswith("error: sweep: ") and not any(b in err for b in bash_noise)
                outcome = "clean error" if clean else "unclear error"
            self.record(fam, outcome, False, ["sweep.sh"] + args + tail, err)
            shutil.rmtree(d, ignore_errors=True)
        # the other scripts' option parsing: a missing value is an error line, never a silent exit 0
        for script, args in (("scripts/fuzz.sh", ["--bin"]), ("scripts/slurm/compare-outputs.sh", []),
                             ("scripts/check-imports.sh", ["/nonexistent"])):
            p = subprocess.run(["timeout", "-s", "KILL", str(self.timeout), os.path.join(ROOT, script)] + args,
                               capture_output=True, env=self.env, cwd=self.work)
            outcome = "clean error" if p.returncode != 0 and p.stderr.strip() else "wrong result"
            self.record(fam, outcome, False, [script] + args, p.stderr.decode("utf-8", "replace"))
