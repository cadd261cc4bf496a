#!/usr/bin/env python3
"""The long fuzz run of the release CLI (issue 14); `scripts/fuzz.sh` calls it.

Families: config JSON (mutated problem configs, --noise files, UNet config.json), CLI options (generated option
sets of gradient, convergence, bench unet, unet-vjp, train), safetensors structure (header and layout corruptions of
the unet-vjp inputs and weights), byte flips (random flips in every input file), faults (SIGKILL/SIGTERM/SIGINT in
the middle of a large write, stdout on /dev/full, a full disk on a small tmpfs); and issue 19's (scripts/fuzz/issue19.py:
multifile kills, standard streams, FIFO inputs, oversized PNG, UNet null/absent, script arguments).

Every run is under `timeout` and is classified as
  clean error   exit != 0, stdout empty, stderr ends with one line 'error: <what>: <why>' (ArgumentParser's 'Error: '
                too) and holds no other error, Help or Usage line (progress lines before it are fine)
  unclear error exit != 0 without a signal, but stderr is not one such line
  accepted      exit 0 and the output is valid (JSON without null/NaN/Infinity, finite safetensors)
  crash         killed by a signal we did not send, or a trap message (Fatal error, precondition, ...) on stderr
  hang          the timeout expired
  wrong result  exit 0 with non-finite or null values in its output, or exit 0 with no output
  leftover      temporary files (.NAME.PID.tmp) or, after a failure, partial outputs left in the output folder
  data loss     after a kill (and the next run into the folder), a mix of two runs' files or a partial set
(leftover is counted on top of the run's outcome). Seeded: the same --seed tries the same cases.
"""
import argparse
import json
import math
import os
import random
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FIXTURE = os.path.join(ROOT, "Tests/NeuralCoreTests/Fixtures/unet-small")
EXAMPLES = sorted(os.path.join(ROOT, "examples", f) for f in os.listdir(os.path.join(ROOT, "examples")) if f.endswith(".json"))
TRAPS = ("Fatal error", "precondition", "Precondition", "Illegal instruction", "Segmentation", "Trace/breakpoint",
         "Aborted", "failed to allocate", "Assertion failed", "Current stack trace", "Stack dump")
COLUMNS = ["tried", "clean error", "unclear error", "accepted", "crash", "hang", "wrong result", "leftover", "data loss"]
# "unclear error" is an extra column: a non-zero exit that is not one 'error: <what>: <why>' line (e.g. ArgumentParser's
# multi-line usage errors); the issue's table asks for the others.


from issue19 import Issue19  # noqa: E402  (the families of issue 19, beside this file)


class Fuzzer(Issue19):
    def __init__(self, binary, seed, timeout, work, verbose):
        self.bin = binary
        self.rng = random.Random(seed)
        self.timeout = timeout
        self.work = work
        self.verbose = verbose
        self.table = {}
        self.examples = {}  # family -> list of (outcome, command) for the report
        # accepted runs stay small on a shared machine: the budget refuses plans above 2 GB
        self.env = dict(os.environ, ADJOINTDEIS_MEMORY_BYTES=os.environ.get("ADJOINTDEIS_MEMORY_BYTES", "2000000000"))

    # ---------------------------------------------------------------- running and classifying

    def run(self, args, out_dir=None, output_kind="json", expect_files=(), stdin=None, kill=None):
        """Runs the binary; returns (outcome, leftover, detail). kill = (delay seconds, signal) sends it ourselves."""
        cmd = ["timeout", "-s", "KILL", str(self.timeout), self.bin] + args
        before = set(os.listdir(out_dir)) if out_dir else set()
        start = time.time()
        p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=self.env, cwd=self.work,
                             start_new_session=True)
        sent = None
        if kill:
            delay, sig = kill
            try:
                p.wait(timeout=delay)
            except subprocess.TimeoutExpired:
                # signal the CLI itself (the child of timeout), not timeout
                children = subprocess.run(["pgrep", "-P", str(p.pid)], capture_output=True, text=True).stdout.split()
                for c in children:
                    try:
                        os.kill(int(c), sig)
                        sent = sig
                    except ProcessLookupError:
                        pass
        out, err = p.communicate()
        rc = p.returncode
        err_text = err.decode("utf-8", "replace")
        elapsed = time.time() - start
        leftover = False
        if out_dir:
            after = set(os.listdir(out_dir)) - before
            temps = [f for f in after if f.endswith(".tmp") or ".tmp" in f or f.startswith(".write-test")]
            if temps:
                leftover = True
            if rc != 0 and sent is None and [f for f in after if f not in temps]:
                leftover = True  # a failed run left (partial) outputs
        # classification
        if sent is not None:
            return "killed", leftover, err_text
        if rc == 137 and elapsed >= self.timeout - 0.5:
            return "hang", leftover, err_text
        if rc < 0 or rc >= 128 or any(t in err_text for t in TRAPS):
            return "crash", leftover, err_text
        if rc != 0:
            # progress lines before it are fine (train, convergence log to stderr); the error is the last line, alone
            lines = [l for l in err_text.splitlines() if l.strip()]
            last = lines[-1] if lines else ""
            one = (last.startswith("error: ") or last.startswith("Error: ")) and \
                sum(l.startswith(("error: ", "Error: ", "Help: ", "Usage: ")) for l in lines) == 1
            named = one and ":" in last[7:]
            bad_text = "NSCocoaErrorDomain" in err_text or "Domain=" in err_text
            if out.strip() == b"" and one and named and not bad_text:
                return "clean error", leftover, err_text
            return "unclear error", leftover, err_text
        # exit 0: is the output valid?
        if output_kind == "json":
            if not self.valid_json(out):
                return "wrong result", leftover, out[:200].decode("utf-8", "replace")
        elif output_kind == "safetensors":
            for f in expect_files:
                if not os.path.exists(f) or not self.finite_safetensors(f):
                    return "wrong result", leftover, f"bad or missing {f}"
        elif output_kind == "text":
            if b"nan" in out.lower() or b"inf " in out.lower():
                return "wrong result", leftover, out[:200].decode("utf-8", "replace")
        return "accepted", leftover, ""

    @staticmethod
    def valid_json(data):
        text = data.decode("utf-8", "replace")
        if not text.strip():
            return False
        try:
            doc = json.loads(text, parse_constant=lambda c: (_ for _ in ()).throw(ValueError(c)))
        except ValueError:
            return False

        def walk(v):
            if v is None:
                return False
            if isinstance(v, float):
                return math.isfinite(v)
            if isinstance(v, dict):
                return all(walk(x) for x in v.values())
            if isinstance(v, list):
                return all(walk(x) for x in v)
            return True
        return walk(doc)

    @staticmethod
    def read_safetensors(path):
        data = open(path, "rb").read()
        n = struct.unpack("<Q", data[:8])[0]
        header = json.loads(data[8:8 + n])
        return data, n, header

    @classmethod
    def finite_safetensors(cls, path):
        try:
            data, n, header = cls.read_safetensors(path)
            base = 8 + n
            for name, e in header.items():
                if name == "__metadata__":
                    continue
                a, b = e["data_offsets"]
                fmt = {"F64": "d", "F32": "f"}.get(e["dtype"])
                if fmt is None:
                    continue
                size = struct.calcsize(fmt)
                values = struct.unpack("<%d%s" % ((b - a) // size, fmt), data[base + a:base + b])
                if not all(math.isfinite(v) for v in values):
                    return False
            return True
        except Exception:
            return False

    def record(self, family, outcome, leftover, command, detail=""):
        row = self.table.setdefault(family, {c: 0 for c in COLUMNS})
        row["tried"] += 1
        if outcome in row:
            row[outcome] += 1
        if leftover:
            row["leftover"] += 1
        severe = outcome in ("crash", "hang", "wrong result", "data loss") or leftover
        if severe or outcome == "unclear error":
            shown = self.examples.setdefault(family, [])
            limit = 40 if family in ("faults", "multifile kills") else (12 if severe else 4)
            if sum((o.startswith("unclear") and "+leftover" not in o) != severe for o, _, _ in shown) < limit:
                shown.append((outcome + (" +leftover" if leftover else ""), " ".join(command), detail.strip()[:300]))
        if self.verbose:
            print(f"[{family}] {outcome}{' +leftover' if leftover else ''}: {' '.join(command)[:160]}", flush=True)

    def fresh(self, name):
        d = tempfile.mkdtemp(prefix=name + "-", dir=self.work)
        return d

    # ---------------------------------------------------------------- mutations

    EXTREMES = ["1e308", "-1e308", "1e-400", "1e400", "1e154", "700", "-700", "0", "-0.0", "5e-324", "1e-320",
                "9223372036854775807", "18446744073709551616", "-1", "2", "0.5", "1e-12", "NaN", "Infinity",
                "true", "null", '"x"', '""', "[]", "{}", "[1]", "[[1]]", "1.0", "-9223372036854775809"]

    def mutate_value(self, v, depth=0):
        """A structural mutation of a parsed JSON document (returns text pieces via a marker for raw literals)."""
        r = self.rng
        if isinstance(v, dict) and v and (depth < 6 and r.random() < 0.75):
            k = r.choice(sorted(v))
            v = dict(v)
            choice = r.random()
            if choice < 0.15:
                del v[k]
            elif choice < 0.25:
                v["unknown_" + str(r.randint(0, 9))] = 1
            else:
                v[k] = self.mutate_value(v[k], depth + 1)
            return v
        if isinstance(v, list) and v and (depth < 6 and r.random() < 0.75):
            v = list(v)
            i = r.randrange(len(v))
            choice = r.random()
            if choice < 0.15:
                del v[i]
            elif choice < 0.25:
                v.insert(i, v[i])
            elif choice < 0.3:
                v = v * r.choice([2, 50])
            else:
                v[i] = self.mutate_value(v[i], depth + 1)
            return v
        return Raw(r.choice(self.EXTREMES))

    def render(self, v):
        if isinstance(v, Raw):
            return v.text
        if isinstance(v, dict):
            return "{" + ", ".join(json.dumps(k) + ": " + self.render(x) for k, x in v.items()) + "}"
        if isinstance(v, list):
            return "[" + ", ".join(self.render(x) for x in v) + "]"
        return json.dumps(v)

    def text_mutation(self, text):
        """Grammar-level damage: trailing commas, duplicate keys, truncation, deep nesting, stray bytes."""
        r = self.rng
        kind = r.randrange(7)
        if kind == 0:
            i = text.rfind("]", 0, r.randrange(1, len(text)))
            return text[:i] + "," + text[i:] if i > 0 else text + ","
        if kind == 1:
            i = text.find("{") + 1
            key = r.choice(['"T"', '"schedule"', '"model"', '"x_T"', '"sample_size"', '"block_out_channels"'])
            return text[:i] + key + ": 1, " + text[i:]
        if kind == 2:
            return text[:r.randrange(len(text))]
        if kind == 3:
            n = r.choice([600, 100000])
            return "[" * n + "]" * (n if r.random() < 0.5 else 0)
        if kind == 4:
            b = bytearray(text.encode())
            for _ in range(r.randint(1, 4)):
                b.insert(r.randrange(len(b)), r.randrange(256))
            return b.decode("latin-1")
        if kind == 5:
            return text.replace(":", ": 1e-400, \"k\":", 1)
        return "\ufeff" + text if r.random() < 0.5 else text + " // comment"

    # ---------------------------------------------------------------- families

    def family_config_json(self, n):
        fam = "config JSON"
        solvers = ["rk45", "adjointdeis-1", "adjointdeis-2m", "dto", "adjointdeis-1/sde", "dto/sde"]
        small_unet = json.load(open(os.path.join(FIXTURE, "config.json")))
        for i in range(n):
            d = self.fresh("cfg")
            which = i % 4
            if which < 2:  # a gradient problem config
                base = json.load(open(self.rng.choice(EXAMPLES)))
                text = self.render(self.mutate_value(base)) if self.rng.random() < 0.7 else self.text_mutation(json.dumps(base))
                path = os.path.join(d, "c.json")
                open(path, "w", encoding="latin-1", errors="replace").write(text)
                solver = self.rng.choice(solvers)
                args = ["gradient", "--config", path, "--solver", solver]
                if solver == "rk45":
                    args += ["--rtol", "1e-6", "--atol", "1e-6"]
                outcome, left, detail = self.run(args)
            elif which == 2:  # a --noise file (N = 4 steps of d = 3)
                noise = [[self.rng.choice([0, 1, 0.0, 1.0, -0.5, 2]) for _ in range(3)] for _ in range(4)]
                text = self.render(self.mutate_value(noise)) if self.rng.random() < 0.6 else json.dumps(noise)
                if self.rng.random() < 0.3:
                    text = self.text_mutation(text)
                path = os.path.join(d, "noise.json")
                open(path, "w", encoding="latin-1", errors="replace").write(text)
                args = ["gradient", "--config", os.path.join(ROOT, "examples/mixture-3d.json"), "--solver", "adjointdeis-1/sde",
                        "--sampler-steps", "4", "--noise", path]
                outcome, left, detail = self.run(args)
            else:  # a UNet config.json next to the fixture's weights
                model = os.path.join(d, "model")
                os.mkdir(model)
                os.symlink(os.path.join(FIXTURE, "diffusion_pytorch_model.safetensors"),
                           os.path.join(model, "diffusion_pytorch_model.safetensors"))
                text = self.render(self.mutate_value(small_unet)) if self.rng.random() < 0.7 else self.text_mutation(json.dumps(small_unet))
                open(os.path.join(model, "config.json"), "w", encoding="latin-1", errors="replace").write(text)
                out = os.path.join(d, "out")
                os.mkdir(out)
                target = os.path.join(out, "o.safetensors")
                args = ["unet-vjp", "--model", model, "--inputs", os.path.join(FIXTURE, "inputs.safetensors"), "--output", target,
                        "--dtype", self.rng.choice(["float32", "float64"])]
                outcome, left, detail = self.run(args, out_dir=out, output_kind="safetensors", expect_files=[target])
            self.record(fam, outcome, left, args, detail)
            shutil.rmtree(d, ignore_errors=True)

    INTS = ["-1", "0", "1", "2", "3", "-9223372036854775808", "9223372036854775807", "9223372036854775808", "1e3", "x", "",
            "100000000", "1000000000000", "5,,10", "0x10", "+4", " 3"]
    DOUBLES = ["nan", "inf", "-inf", "0", "-1", "1e-300", "1e-6", "1e308", "abc", "", "1e-400"]

    def family_cli_options(self, n):
        fam = "CLI options"
        r = self.rng
        example = os.path.join(ROOT, "examples/mixture-3d.json")
        for i in range(n):
            d = self.fresh("opt")
            out = os.path.join(d, "out")
            os.mkdir(out)
            # train (a UNet step and a 64-sample eps report: ~10 s) is one case in 20, the others share the rest
            which = 4 if i % 20 == 19 else i % 4
            kind, files, out_dir = "json", [], None
            if which == 0:
                args = ["gradient", "--config", example]
                pool = {
                    "--solver": ["rk45", "adjointdeis-1", "adjointdeis-2m", "dto", "adjointdeis-2m-phi2", "rk46", "", "dto/sde",
                                 "adjointdeis-1/exact", "adjointdeis-1/sde/resolved", "rk45/sde", "adjointdeis-1//"],
                    "--steps": ["1", "3", "5", "0", "-1", "100000000", "9223372036854775807", "x"],
                    "--sampler-steps": ["1", "3", "5", "0", "-1", "20000000", "x"],
                    "--sampler": ["dpm-solver-1", "dpm-solver-2m", "sde", "euler", ""],
                    "--states": ["exact", "recorded", "resolved", "none"],
                    "--grid": ["lambda", "time-uniform", "time-quadratic", "log"],
                    "--weight": ["paper", "phi2", "x"],
                    "--seed": ["0", "18446744073709551615", "-1", "18446744073709551616"],
                    "--rtol": ["1e-6", "nan", "0", "-1", "inf", "1e-300"],
                    "--atol": ["1e-6", "nan", "0"],
                    "--checkpoint": ["1", "2", "0", "-1", "9223372036854775807"],
                    "--rk45-states": ["interpolate", "backsolve", "x"],
                }
                for opt in r.sample(sorted(pool), r.randint(1, 4)):
                    args += [opt, r.choice(pool[opt])]
                # rk45 at its default 1e-12 tolerance is slow on hostile settings: keep accepted runs quick
                if "--rtol" not in args:
                    args += ["--rtol", "1e-6", "--atol", "1e-6"] if "rk45" in args or "exact" in " ".join(args) else []
            elif which == 1:
                args = ["convergence", "--config", example, "--out", out]
                pool = {
                    "--kind": ["ode", "sde", "x"],
                    "--solvers": ["adjointdeis-1/recorded", "adjointdeis-1", "dto/dpm-solver-1", "x", "", "adjointdeis-1,,dto"],
                    "--steps": ["5,10", "5,10,20", "10,5", "5,,10", "0,5", "-1", "5,100000000", "5,x", ""],
                    "--seeds": ["1", "2", "0", "-3", "1000000000", "10001"],
                    "--name": ["", "a b", "ok", "../x", "x" * 300],
                    "--reference-tolerance": ["1e-8", "nan", "0", "-1"],
                    "--fine-factor": ["2", "0", "9223372036854775807", "100000000"],
                    "--floor": ["1e-11", "nan", "inf", "-1"],
                    "--paths": ["1", "2", "0", "100000"],
                }
                for opt in r.sample(sorted(pool), r.randint(1, 4)):
                    args += [opt, r.choice(pool[opt])]
                if "--steps" not in args:
                    args += ["--steps", "5,10"]
                if "--reference-tolerance" not in args:
                    args += ["--reference-tolerance", "1e-8"]
                kind, out_dir = "text", out
            elif which == 2:
                args = ["bench", "unet", "--model", r.choice(["tiny", "tiny", "nosuch"])]
                pool = {"--batch": ["1", "2", "0", "-1", "100000000", "9223372036854775807", "65537", "x"],
                        "--runs": ["1", "0", "-1", "100000000000", "100001"],
                        "--threads": ["1", "0", "-1", "1025", "100000000"],
                        "--dtype": ["float32", "float64", "float16"]}
                for opt in r.sample(sorted(pool), r.randint(1, 4)):
                    args += [opt, r.choice(pool[opt])]
                if "--runs" not in args:
                    args += ["--runs", "1"]
                kind = "text"
            elif which == 3:
                target = os.path.join(out, "o.safetensors")
                args = ["unet-vjp", "--model", r.choice([FIXTURE, "tiny", "nosuch", FIXTURE + "/config.json"]),
                        "--inputs", r.choice([os.path.join(FIXTURE, "inputs.safetensors")] * 3 + [example, "/nonexistent"]),
                        "--output", target, "--dtype", r.choice(["float32", "float64", "f16"])]
                kind, files, out_dir = "safetensors", [target], out
            else:
                args = ["train", "--data", os.path.join(ROOT, "examples/network/image-mixture.json"),
                        "--model-config", os.path.join(ROOT, "examples/network/unet-small.json"), "--out", out]
                pool = {"--steps": ["1", "0", "-1", "100000000000"],
                        "--batch": ["1", "0", "-1", "100000000", "9223372036854775807"],
                        "--lr": ["1e-3", "nan", "-1", "inf"], "--warmup": ["0", "-1", "100000000000"],
                        "--checkpoint-every": ["1", "0", "-1"], "--t-eps": ["1e-3", "nan", "0", "2"],
                        "--threads": ["1", "-1", "100000"], "--adam-eps": ["1e-8", "0", "nan"]}
                for opt in r.sample(sorted(pool), r.randint(1, 3)):
                    args += [opt, r.choice(pool[opt])]
                for opt, default in (("--steps", "1"), ("--batch", "1")):
                    if opt not in args:
                        args += [opt, default]
                kind, out_dir = "text", out
            outcome, left, detail = self.run(args, out_dir=out_dir, output_kind=kind, expect_files=files)
            self.record(fam, outcome, left, args, detail)
            shutil.rmtree(d, ignore_errors=True)

    def corrupt_safetensors(self, data):
        """A structural corruption: the header's JSON or its declared length, offsets, shapes, dtypes, names."""
        r = self.rng
        n = struct.unpack("<Q", data[:8])[0]
        header = json.loads(data[8:8 + n])
        body = data[8 + n:]
        names = [k for k in header if k != "__metadata__"]
        kind = r.randrange(9)
        if kind == 0:
            return struct.pack("<Q", r.choice([0, 1, n - 1, n + 1, len(data), 2 ** 63, 2 ** 64 - 1, 100_000_001])) + data[8:]
        if kind == 1:
            return data[:r.randrange(len(data))]
        e = header[r.choice(names)]
        if kind == 2:
            e["data_offsets"] = [r.choice([-1, 0, 8, 2 ** 62, 2 ** 63 - 1, e["data_offsets"][1]]), r.choice([0, 2 ** 63, e["data_offsets"][1] + 8])]
        elif kind == 3:
            e["shape"] = r.choice([[], [-1], [2 ** 62, 4], [2 ** 32, 2 ** 32], [0], e["shape"] + [1], e["shape"][::-1], [1.5]])
        elif kind == 4:
            e["dtype"] = r.choice(["F16", "BF16", "I64", "U8", "F8", "", 1, None])
        elif kind == 5:
            header[r.choice(["x", "t", "z", "cotangent", "conv_in.weight", ""])] = dict(e)
        elif kind == 6:
            header = self.mutate_value(header)
        elif kind == 7:
            del header[r.choice(names)]
        else:
            header["__metadata__"] = r.choice([{"a": 1}, [], "x", None])
        text = self.render(header).encode()
        return struct.pack("<Q", len(text)) + text + body

    def family_safetensors(self, n):
        fam = "safetensors structure"
        inputs = open(os.path.join(FIXTURE, "inputs.safetensors"), "rb").read()
        weights = open(os.path.join(FIXTURE, "diffusion_pytorch_model.safetensors"), "rb").read()
        for i in range(n):
            d = self.fresh("st")
            model = os.path.join(d, "model")
            os.mkdir(model)
            shutil.copy(os.path.join(FIXTURE, "config.json"), model)
            corrupt_weights = i % 3 == 2
            open(os.path.join(model, "diffusion_pytorch_model.safetensors"), "wb").write(
                self.corrupt_safetensors(weights) if corrupt_weights else weights)
            inp = os.path.join(d, "inputs.safetensors")
            open(inp, "wb").write(inputs if corrupt_weights else self.corrupt_safetensors(inputs))
            out = os.path.join(d, "out")
            os.mkdir(out)
            target = os.path.join(out, "o.safetensors")
            args = ["unet-vjp", "--model", model, "--inputs", inp, "--output", target, "--dtype", self.rng.choice(["float32", "float64"])]
            outcome, left, detail = self.run(args, out_dir=out, output_kind="safetensors", expect_files=[target])
            self.record(fam, outcome, left, args, detail)
            shutil.rmtree(d, ignore_errors=True)

    def family_byte_flips(self, n):
        fam = "byte flips"
        sources = [("inputs", os.path.join(FIXTURE, "inputs.safetensors")),
                   ("weights", os.path.join(FIXTURE, "diffusion_pytorch_model.safetensors")),
                   ("unet-config", os.path.join(FIXTURE, "config.json"))] + [("problem", e) for e in EXAMPLES]
        for i in range(n):
            d = self.fresh("flip")
            role, path = sources[i % len(sources)]
            data = bytearray(open(path, "rb").read())
            for _ in range(self.rng.randint(1, 8)):
                j = self.rng.randrange(len(data))
                if self.rng.random() < 0.5:
                    data[j] ^= 1 << self.rng.randrange(8)
                else:
                    data[j] = self.rng.randrange(256)
            out = os.path.join(d, "out")
            os.mkdir(out)
            target = os.path.join(out, "o.safetensors")
            if role == "problem":
                cfg = os.path.join(d, "c.json")
                open(cfg, "wb").write(data)
                args = ["gradient", "--config", cfg, "--solver", self.rng.choice(["adjointdeis-1", "adjointdeis-2m", "dto"])]
                outcome, left, detail = self.run(args)
            else:
                model = os.path.join(d, "model")
                os.mkdir(model)
                for f in ("config.json", "diffusion_pytorch_model.safetensors"):
                    shutil.copy(os.path.join(FIXTURE, f), model)
                inp = os.path.join(FIXTURE, "inputs.safetensors")
                if role == "inputs":
                    inp = os.path.join(d, "inputs.safetensors")
                    open(inp, "wb").write(data)
                elif role == "weights":
                    open(os.path.join(model, "diffusion_pytorch_model.safetensors"), "wb").write(data)
                else:
                    open(os.path.join(model, "config.json"), "wb").write(data)
                args = ["unet-vjp", "--model", model, "--inputs", inp, "--output", target, "--dtype", self.rng.choice(["float32", "float64"])]
                outcome, left, detail = self.run(args, out_dir=out, output_kind="safetensors", expect_files=[target])
            self.record(fam, outcome, left, args, detail)
            shutil.rmtree(d, ignore_errors=True)

    def cifar_inputs(self, path, batch=1):
        """x (B,3,32,32), t (B), cotangent: inputs of the cifar10 layout (random weights, 143 MB of vjp_param)."""
        r = random.Random(7)
        tensors = [("cotangent", [batch, 3, 32, 32]), ("t", [batch]), ("x", [batch, 3, 32, 32])]
        header, body, offset = {}, b"", 0
        for name, shape in tensors:
            count = math.prod(shape)
            values = [500.0] * count if name == "t" else [r.gauss(0, 1) for _ in range(count)]
            chunk = struct.pack("<%dd" % count, *values)
            header[name] = {"dtype": "F64", "shape": shape, "data_offsets": [offset, offset + len(chunk)]}
            body += chunk
            offset += len(chunk)
        text = json.dumps(header).encode()
        text += b" " * ((8 - len(text) % 8) % 8)
        open(path, "wb").write(struct.pack("<Q", len(text)) + text + body)

    def family_faults(self, n, allow_mount):
        fam = "faults"
        inputs = os.path.join(self.work, "cifar-inputs.safetensors")
        self.cifar_inputs(inputs)
        # the time a full cifar10 unet-vjp takes here, to place kills inside it
        d = self.fresh("fault-probe")
        t0 = time.time()
        self.run(["unet-vjp", "--model", "cifar10", "--inputs", inputs, "--output", os.path.join(d, "o.safetensors")])
        full = max(0.5, time.time() - t0)
        shutil.rmtree(d, ignore_errors=True)
        sigs = [signal.SIGKILL, signal.SIGTERM, signal.SIGINT]
        kills = max(1, n - 6)
        for i in range(kills):
            d = self.fresh("kill")
            target = os.path.join(d, "o.safetensors")
            # half the kills land in the last 30% of the run: while the 143 MB output is being written
            delay = full * (self.rng.uniform(0.7, 1.0) if i % 2 == 0 else self.rng.uniform(0.05, 0.7))
            sig = sigs[i % 3]
            args = ["unet-vjp", "--model", "cifar10", "--inputs", inputs, "--output", target]
            outcome, left, detail = self.run(args, out_dir=d, output_kind="safetensors", expect_files=[target], kill=(delay, sig))
            if outcome == "killed":
                # a kill may leave no output or a complete one, never a partial target
                if os.path.exists(target) and not self.finite_safetensors(target):
                    outcome = "wrong result"
                else:
                    outcome = "clean error"
                left = any(f != "o.safetensors" for f in os.listdir(d))
                if left and sig == signal.SIGKILL:
                    # SIGKILL cannot be caught: its temporary file may stay until the next run writing the same target
                    # sweeps it (the issue's rule). Run that next run, and count only what it leaves.
                    self.run(args, out_dir=None)
                    left = any(f != "o.safetensors" for f in os.listdir(d))
                    if not left:
                        self.swept_after_kill += 1
            self.record(fam, outcome, left, args + [f"(signal {signal.Signals(sig).name} after {delay:.2f} s)"], detail)
            shutil.rmtree(d, ignore_errors=True)
        # stdout on /dev/full: must fail (non-zero), not exit 0 with nothing written
        for args in (["gradient", "--config", os.path.join(ROOT, "examples/mixture-3d.json"), "--solver", "adjointdeis-1"],
                     ["bench", "unet", "--model", "tiny", "--runs", "1"]):
            p = subprocess.run(["timeout", "-s", "KILL", str(self.timeout), self.bin] + args, stdout=open("/dev/full", "w"),
                               stderr=subprocess.PIPE, env=self.env)
            err = p.stderr.decode("utf-8", "replace")
            if p.returncode == 0:
                outcome = "wrong result"
            elif p.returncode >= 128 or any(t in err for t in TRAPS):
                outcome = "crash"
            else:
                outcome = "clean error"
            self.record(fam, outcome, False, args + ["> /dev/full"], err)
        # a full disk: a 1 MB tmpfs as the output folder
        mnt = os.path.join(self.work, "tmpfs")
        os.mkdir(mnt)
        mounted = allow_mount and subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", mnt],
                                                 capture_output=True).returncode == 0
        if not mounted:
            self.notes.append("full disk: skipped (mounting a tmpfs is not allowed here)")
            return
        try:
            cases = [
                (["unet-vjp", "--model", "cifar10", "--inputs", inputs, "--output", os.path.join(mnt, "o.safetensors")], "safetensors",
                 [os.path.join(mnt, "o.safetensors")]),
                (["convergence", "--config", os.path.join(ROOT, "examples/mixture-3d.json"), "--steps", "5,10", "--out", mnt,
                  "--reference-tolerance", "1e-8"], "text", []),
                (["train", "--data", os.path.join(ROOT, "examples/network/image-mixture.json"), "--model-config",
                  os.path.join(ROOT, "examples/network/unet-small.json"), "--steps", "1", "--batch", "1", "--out", mnt], "text", []),
                (["gradient", "--config", os.path.join(ROOT, "examples/mixture-3d.json")], "json", []),
            ]
            for args, kind, files in cases:
                # fill the disk but a few bytes for the commands that print to stdout redirected there
                outcome, left, detail = self.run(args, out_dir=mnt, output_kind=kind, expect_files=files)
                self.record(fam, outcome, left, args + ["(1 MB tmpfs)"], detail)
                for f in os.listdir(mnt):
                    p = os.path.join(mnt, f)
                    shutil.rmtree(p) if os.path.isdir(p) else os.remove(p)
        finally:
            subprocess.run(["umount", mnt], capture_output=True)


class Raw:
    def __init__(self, text):
        self.text = text


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin", required=True)
    ap.add_argument("--seed", type=int, default=14)
    ap.add_argument("--cases", type=int, default=600, help="cases per family (faults: about 30)")
    ap.add_argument("--faults", type=int, default=30)
    ap.add_argument("--timeout", type=float, default=60)
    ap.add_argument("--no-mount", action="store_true")
    ap.add_argument("--verbose", action="store_true")
    ap.add_argument("--kills", type=int, default=60, help="multifile: cases, each a kill at a random moment")
    ap.add_argument("--families", default="config,options,safetensors,flips,faults,multifile,streams,fifos,png,unetnull,scripts")
    a = ap.parse_args()
    work = tempfile.mkdtemp(prefix="adjointdeis-fuzz-")
    f = Fuzzer(os.path.abspath(a.bin), a.seed, a.timeout, work, a.verbose)
    f.notes = []
    f.swept_after_kill = 0
    f.kills = 0
    started = time.time()
    try:
        families = a.families.split(",")
        if "config" in families:
            f.family_config_json(a.cases)
        if "options" in families:
            f.family_cli_options(a.cases)
        if "safetensors" in families:
            f.family_safetensors(a.cases)
        if "flips" in families:
            f.family_byte_flips(a.cases)
        if "faults" in families:
            f.family_faults(a.faults, not a.no_mount)
        # issue 19's families (scripts/fuzz/issue19.py); multifile runs --kills cases, the others --cases
        if "multifile" in families:
            f.family_multifile(a.kills)
        if "streams" in families:
            f.family_streams(a.cases)
        if "fifos" in families:
            f.family_fifos(a.cases)
        if "png" in families:
            f.family_png(a.cases)
        if "unetnull" in families:
            f.family_unetnull(a.cases)
        if "scripts" in families:
            f.family_scripts(a.cases)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    width = max(len(k) for k in f.table) if f.table else 10
    print(f"\nfuzz of {a.bin} (seed {a.seed}, timeout {a.timeout:g} s, {time.time() - started:.0f} s)\n")
    print("| family".ljust(width + 2) + " | " + " | ".join(COLUMNS) + " |")
    print("|" + "-" * (width + 2) + "|" + "|".join("-" * (len(c) + 2) for c in COLUMNS) + "|")
    for fam, row in f.table.items():
        print("| " + fam.ljust(width) + " | " + " | ".join(str(row[c]).rjust(len(c)) for c in COLUMNS) + " |")
    if f.swept_after_kill:
        f.notes.append(f"faults: {f.swept_after_kill} SIGKILLed runs left their .NAME.PID.tmp; the next run writing the same target swept each")
    if f.kills:
        f.notes.append(f"multifile: {f.kills} runs killed by a signal at random moments (the others finished first)")
    cases = sum(row["tried"] for row in f.table.values())
    f.notes.append(f"{cases} cases in all")
    for note in f.notes:
        print("note: " + note)
    bad = 0
    for fam, shown in f.examples.items():
        print(f"\n{fam}: examples")
        for outcome, cmd, detail in shown:
            print(f"  [{outcome}] {cmd[:200]}\n      {detail[:200]!r}")
    for row in f.table.values():
        bad += row["crash"] + row["hang"] + row["wrong result"] + row["leftover"] + row["data loss"]
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
