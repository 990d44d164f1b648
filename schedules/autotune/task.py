"""Tuning tasks: a template at one shape, for one target.

``create_task(template_name, args, target)`` runs the template once to record its config space.
A Task pickles as (template module, name, args, target) and is re-created by importing the
template's module. Measurement does not rely on that: the tuning process lowers and emits each
config and sends workers only plain data, so a template defined in ``__main__``, a script or a
notebook cell can be tuned.
"""

from __future__ import annotations

import importlib
import json

import numpy as np

import tir
from codegen_c.target import Target, get_target
from tir.tensor import PlaceholderOp

from .space import AutotuneError, ConfigEntity, ConfigSpace, define_space, get_template, instantiate


def _norm_args(args) -> tuple:
    if not isinstance(args, (tuple, list)):
        args = (args,)
    out = []
    for a in args:
        if isinstance(a, np.integer):
            a = int(a)
        elif isinstance(a, list):
            a = tuple(a)
        out.append(a)
    return tuple(out)


def task_key(name: str, args, target: Target | str) -> str:
    """Stable string naming a task: ``matmul_i8[32,32,32]@vexriscv`` (the target's name: an alias such
    as ``rv32im`` gives the same key)."""
    return f"{name}{json.dumps(list(_norm_args(args)), separators=(',', ':'))}@{get_target(target).name}"


class Task:
    """A tunable template at fixed args for one target. ``target`` is the target's name (as records
    store it), ``target_object`` the codegen_c Target."""

    def __init__(self, name: str, args, target: Target | str):
        self.name = name
        self.args = _norm_args(args)
        self.target_object: Target = get_target(target)
        self.target: str = self.target_object.name
        self.template = get_template(name)
        self.config_space: ConfigSpace = define_space(self.template, self.args, self.target_object)
        _, tensors = self._default()
        self.arg_specs = [(tuple(int(d) for d in t.shape), t.dtype, not isinstance(t.op, PlaceholderOp),
                           t.op.name) for t in tensors]
        self.output_indices = [i for i, spec in enumerate(self.arg_specs) if spec[2]]
        if not self.output_indices:
            raise AutotuneError(f"template {name!r}: no output among its args")

    def _default(self):
        return instantiate(self.template, self.args, self.config_space.get(0))

    @property
    def key(self) -> str:
        return task_key(self.name, self.args, self.target_object)

    @property
    def module(self) -> str | None:
        return self.template.module

    def __reduce__(self):
        return (_recreate, (self.module, self.name, self.args, self.target_object))

    def __repr__(self) -> str:
        return f"Task({self.key}, {len(self.config_space)} configs)"

    # configs ---------------------------------------------------------------------------------------
    def config(self, config) -> ConfigEntity:
        """A ConfigEntity from an index, a ConfigEntity of this space or its JSON."""
        if isinstance(config, ConfigEntity):
            if config.space is self.config_space:
                return config
            return self.config_space.from_json(config.to_json())
        if isinstance(config, dict):
            return self.config_space.from_json(config)
        return self.config_space.get(int(config))

    def instantiate(self, config):
        """``(schedule, tensor_args)`` of a config."""
        return instantiate(self.template, self.args, self.config(config))

    def lower(self, config, name: str | None = None):
        """The PrimFunc of a config."""
        s, args = self.instantiate(config)
        return tir.lower(s, args, name or self.name)

    # data ------------------------------------------------------------------------------------------
    def make_inputs(self, seed: int = 0) -> list[np.ndarray]:
        """Arrays for every kernel arg: deterministic random inputs, zeroed outputs."""
        rng = np.random.default_rng(seed)
        ins = None
        if self.template.make_inputs is not None:
            ins = [np.asarray(a) for a in self.template.make_inputs(self.args, rng)]
        arrays = []
        k = 0
        for shape, dtype, is_out, _ in self.arg_specs:
            npd = tir.dtype.numpy_dtype(dtype)
            if is_out:
                arrays.append(np.zeros(shape, npd))
                continue
            if ins is not None:
                arrays.append(np.ascontiguousarray(ins[k], dtype=npd))
            elif tir.dtype.is_float(dtype):
                arrays.append(rng.uniform(-1.0, 1.0, shape).astype(npd))
            else:
                info = np.iinfo(npd)
                lo, hi = max(int(info.min), -1000), min(int(info.max), 1000)
                arrays.append(rng.integers(lo, hi, shape, endpoint=True).astype(npd))
            k += 1
        return arrays

    def input_arrays(self, arrays) -> list[np.ndarray]:
        return [a for a, spec in zip(arrays, self.arg_specs) if not spec[2]]

    def reference(self, inputs) -> list[np.ndarray]:
        """Expected outputs (one array per output arg) for the input arrays (or all arg arrays).

        From the template's numpy ``reference`` when it has one, else from ``tir.evaluate`` of its
        tensor expression (the IR's own semantics), so every template can be checked."""
        ref = self.template.reference
        inputs = list(inputs)
        if len(inputs) == len(self.arg_specs):
            inputs = self.input_arrays(inputs)
        if ref is None:
            return self._evaluate(inputs)
        import inspect

        try:
            takes_args = "args" in inspect.signature(ref).parameters
        except (TypeError, ValueError):
            takes_args = False
        out = ref(*inputs, args=self.args) if takes_args else ref(*inputs)
        outs = list(out) if isinstance(out, (tuple, list)) else [out]
        if len(outs) != len(self.output_indices):
            raise AutotuneError(f"template {self.name!r}: the reference gives {len(outs)} outputs, the kernel "
                                f"has {len(self.output_indices)}")
        res = []
        for o, i in zip(outs, self.output_indices):
            shape, dtype, _, name = self.arg_specs[i]
            o = np.asarray(o)
            if o.shape != shape:
                raise AutotuneError(f"template {self.name!r}: reference output {name!r} has shape {o.shape}, "
                                    f"expected {shape}")
            res.append(o.astype(tir.dtype.numpy_dtype(dtype), copy=False))
        return res

    def _evaluate(self, inputs) -> list[np.ndarray]:
        """Expected outputs from the tensor expression itself (``tir.evaluate``): the check of a
        template without a hand-written reference. The compute definition does not depend on the
        config (only the schedule does), so the default config's tensors define it."""
        _, tensors = self._default()
        ins = [t for t, spec in zip(tensors, self.arg_specs) if not spec[2]]
        if len(ins) != len(inputs):
            raise AutotuneError(f"template {self.name!r}: {len(inputs)} input arrays for {len(ins)} input args")
        feed = {t: np.ascontiguousarray(a) for t, a in zip(ins, inputs)}
        outs = tir.evaluate([tensors[i] for i in self.output_indices], feed)
        return [np.asarray(o).astype(tir.dtype.numpy_dtype(self.arg_specs[i][1]), copy=False)
                for o, i in zip(outs, self.output_indices)]


_TASKS: dict[str, Task] = {}


def create_task(template_name: str, args, target: Target | str = "vexriscv") -> Task:
    """The Task of a registered template at ``args`` for ``target`` (a name or a Target; cached per process)."""
    key = task_key(template_name, args, target)
    t = _TASKS.get(key)
    if t is None or t.template is not get_template(template_name) or t.target_object is not get_target(target):
        t = _TASKS[key] = Task(template_name, args, target)
    return t


def _recreate(module: str | None, name: str, args, target: Target | str) -> Task:
    if module and module != "__main__":
        importlib.import_module(module)
    return create_task(name, args, target)


__all__ = ["Task", "create_task", "task_key"]
