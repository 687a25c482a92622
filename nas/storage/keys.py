"""Names of everything nas stores on Optuna studies and trials (units in the name).

Trial user attributes are JSON-friendly so ``optuna-dashboard`` shows them as they are.
"""

from __future__ import annotations

# ---- objectives (Optuna metric names) ------------------------------------------------------
ACCURACY = "accuracy"  # validation top-1, a fraction in [0, 1] (zero-cost: a score in (0, 1))
ACCURACY_SE = "accuracy_se"  # its standard error, sqrt(p (1 - p) / n) over n validation images
VAL_IMAGES = "val_images"  # n: how many validation images the accuracy was measured on
LATENCY_MS = "latency_ms"  # median latency on the target
SCORE = "score"  # MnasNet-style weighted objective

# ---- trial user attributes ----------------------------------------------------------------
ARCH = "arch"  # canonical architecture (dict of label -> value)
ARCH_HASH = "arch_hash"
ARCH_STR = "arch_str"  # readable one-line form
LATENCY = "latency"  # full LatencyStats dict
LATENCY_SOURCE = "latency_source"  # "measured" | "cached" | "predicted" | "table"
FINGERPRINT = "fingerprint"  # what the latency ran on
FINGERPRINT_ID = "fingerprint_id"
PARAMS_M = "params_m"
FLOPS_M = "flops_m"
MACS_M = "macs_m"
EVAL_SECONDS = "eval_seconds"
LATENCY_SECONDS = "latency_seconds"
DUPLICATE_OF = "duplicate_of"  # trial number whose result was reused
CONSTRAINT = "constraint"  # [latency_ms - max_latency_ms]; <= 0 is feasible

# ---- study user attributes ----------------------------------------------------------------
SETTINGS = "settings"  # dict, see nas.storage.studies.StudySettings
BUDGET = "budget"
ANCHORS = "anchors"  # dict arch_hash -> "largest" | "smallest": the anchors a search enqueued
# dict: the pre-screen of --warm-start (proxy, pool, latency source, picks: arch hashes, seconds)
WARM_START = "warm_start"

# ---- tabular evaluator --------------------------------------------------------------------
TABLE_ROW = "table_row"  # every column of the matched table row, values as in the file

# ---- zero-cost evaluator (nas.evaluators.zero_cost) ---------------------------------------
ZERO_COST = "zero_cost"  # raw value of every proxy the score was made of, by proxy name
ZERO_COST_PROXY = "zero_cost_proxy"  # the proxy (or "vote") the accuracy axis is a score of

# ---- several workers (nas/storage/coordination.py) ----------------------------------------
WORKER = "worker"  # "host/boot/pidns:pid#trial_number" of the process that ran the trial
FAIL_REASON = "fail_reason"  # why a trial failed ("interrupted", the candidate's error)
# the fail_reason of a trial failed by the stale-trial sweep (its worker was killed or hung)
STALE_REASON = "worker stopped heartbeating (killed or hung)"

# ---- DARTS trials (nas.search.darts) ------------------------------------------------
ARCH_WEIGHTS = "arch_weights"  # per edge key: softmax of the architecture logits, op order
DARTS_EPOCH = "darts_epoch"  # the search epoch after which the architecture was derived
DARTS_LOSS = "darts_loss"  # mean training loss of the mixture in that epoch
EXPECTED_LATENCY_MS = "expected_latency_ms"  # sum over edges of softmax . per-op latency table
DARTS_CHECKPOINT = "darts_checkpoint"  # study attr: checkpoint key of the DARTS supernet
DARTS_LATENCY_TABLE = "darts_latency_table_ms"  # study attr: edge key -> per-op latency (ms)

# ---- hardware-aware objectives (issue 3) ----------------------------------------------------
LATENCY_PREDICTED_MS = "latency_predicted_ms"  # lookup-table prediction (predicted/hybrid modes)
PEAK_ACTIVATION_MB = "peak_activation_mb"  # peak live activation memory of one forward, MiB
LATENCY_MODE = "latency_mode"  # "measured" | "predicted" | "hybrid": how latency was obtained
