# A plain user script with no `if __name__ == "__main__":` guard: it defines a tuning template at
# top level and tunes it with a process pool. Run by tests/test_tune_any_script.py as
# `python tune_script_no_main_guard.py MARKER RECORDS TARGET`; every run of this top-level code
# appends one line to MARKER, so the test can tell whether a worker re-ran the script.
import json
import sys

import numpy as np

import schedules
import tir
from schedules import autotune
from simulator.measure import make_measure

marker, records, target = sys.argv[1], sys.argv[2], sys.argv[3]
with open(marker, "a") as f:
    f.write("ran\n")


def reference(a, b):
    return (a.astype(np.int64) @ (b.astype(np.int64) + 3)).astype(np.int32)


@autotune.template("script_matmul_plus3", reference=reference)
def script_matmul_plus3(M, N, K):
    A = tir.placeholder((M, K), "int32", name="A")
    B = tir.placeholder((K, N), "int32", name="B")
    k = tir.reduce_axis((0, K), name="k")
    C = tir.compute((M, N), lambda i, j: tir.sum(A[i, k] * (B[k, j] + 3), axis=k), name="C")
    s = schedules.create_schedule(C)
    cfg = autotune.get_config()
    cfg.define_split("ti", C.op.axis[0], num_outputs=2)
    cfg.define_split("tj", C.op.axis[1], num_outputs=2)
    cfg["ti"].apply(s, C, C.op.axis[0])
    cfg["tj"].apply(s, C, C.op.axis[1])
    return s, [A, B, C]


task = autotune.create_task("script_matmul_plus3", (4, 8, 4), target)
with make_measure(target, n_parallel=2) as measure:
    res = autotune.RandomTuner(task, seed=1).tune(4, measure, records=records, batch_size=4)
print(json.dumps({"task": task.key, "n_measured": res.n_measured,
                  "results": [[i, r.cost, r.error, r.message] for _, i, r in res.history]}))
