"""Writes the safetensors fixtures that c_tests/safetensors.c and safetensors_module.c read, with the Python
`safetensors` package (the reference implementation) and PyTorch:

  tests/fixtures/dtypes.safetensors   one small tensor per dtype, including the special values
                                      (subnormals, infinities, NaN, extremes) conversion must keep
  tests/fixtures/mlp.safetensors      state_dict of torch.nn.Sequential(Linear(4,8), ReLU,
                                      Linear(8,3)) after torch.manual_seed(0), F32
  tests/fixtures/mlp_f16.safetensors  the same weights stored as F16
  tests/fixtures/mlp_io.safetensors   "input" (2,4), PyTorch's "output" for it, and "output_f16",
                                      the output with the F16-rounded weights

Run: python3 tests/reference/make_safetensors_fixtures.py (the output is byte-for-byte reproducible;
metadata has one key because the writer orders several keys at random)
It prints what PyTorch's .float() / .long() make of each dtype tensor: the values the C test
expects from rt_safetensors_get.
"""

import math
import os

import torch
from safetensors.torch import save_file

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures")
inf, nan = math.inf, math.nan


def dtypes():
    t = {
        "f32": torch.tensor([[1.5, -2.25, 0.0], [3.4028234663852886e38, 2.0**-149, -0.0]], dtype=torch.float32),
        "f16": torch.tensor([[1.0, -2.5, 65504.0, 2.0**-24], [2.0**-14, inf, -inf, nan]], dtype=torch.float16),
        "bf16": torch.tensor([1.0, -3.140625, 3.3895313892515355e38, 2.0**-133, inf, nan], dtype=torch.bfloat16),
        "f64": torch.tensor([0.1, -1e300, 2.0**-140, 1.0 / 3.0], dtype=torch.float64),
        "f8_e4m3": torch.tensor([448.0, -(2.0**-9), 1.0, nan], dtype=torch.float32).to(torch.float8_e4m3fn),
        "f8_e5m2": torch.tensor([57344.0, 2.0**-16, inf, -1.5], dtype=torch.float32).to(torch.float8_e5m2),
        "i64": torch.tensor([[-(2**63), -1], [0, 2**63 - 1]], dtype=torch.int64),
        "i32": torch.tensor([-(2**31), -7, 2**31 - 1], dtype=torch.int32),
        "i16": torch.tensor([-32768, 32767], dtype=torch.int16),
        "i8": torch.tensor([-128, 127], dtype=torch.int8),
        "u8": torch.tensor([0, 1, 128, 255], dtype=torch.uint8),
        "u16": torch.tensor([0, 65535], dtype=torch.uint16),
        "u32": torch.tensor([0, 2**32 - 1], dtype=torch.uint32),
        "u64": torch.tensor([0, 2**63 - 1], dtype=torch.uint64),
        "bool": torch.tensor([True, False, True]),
        "scalar": torch.tensor(42.5),
        "empty": torch.zeros(0, 3),
    }
    save_file(t, os.path.join(OUT, "dtypes.safetensors"), metadata={"format": "pt"})
    for name, v in t.items():
        if v.dtype.is_floating_point:
            print(name, "F32", [x.hex() for x in v.float().flatten().tolist()])
        else:
            print(name, "I64", v.to(torch.int64).flatten().tolist())


def mlp():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 3))
    sd = {k: v.contiguous() for k, v in model.state_dict().items()}
    save_file(sd, os.path.join(OUT, "mlp.safetensors"), metadata={"format": "pt"})
    save_file({k: v.half() for k, v in sd.items()}, os.path.join(OUT, "mlp_f16.safetensors"), metadata={"format": "pt"})
    x = torch.tensor([[0.5, -1.0, 2.0, 0.25], [-1.5, 0.75, 0.0, 1.0]])
    with torch.no_grad():
        y = model(x)
        model.load_state_dict({k: v.half().float() for k, v in sd.items()})
        y16 = model(x)
    save_file({"input": x, "output": y, "output_f16": y16}, os.path.join(OUT, "mlp_io.safetensors"))
    print("mlp output", y.tolist())
    print("mlp output with F16 weights", y16.tolist())


if __name__ == "__main__":
    os.makedirs(OUT, exist_ok=True)
    dtypes()
    mlp()
