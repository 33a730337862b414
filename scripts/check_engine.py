"""Check that the installed llama.cpp runs the default model on this CPU: load it and read a prompt of a few
hundred tokens in one batch, the way a question's schema is read.

Set-up runs this in its own process because a llama.cpp built for other instructions does not raise an error: it
kills the process (SIGILL, "Illegal instruction"). That happens with a wheel pip cached from another machine, and
with ggml's AMX kernels, which crash here on batched prompts although the CPU lists AMX (so set-up builds without
them). Exit status 0: it runs; anything else: rebuild llama-cpp-python on this machine.

    .venv/bin/python scripts/check_engine.py [MODEL_FILE]
"""

from __future__ import annotations

import sys
from pathlib import Path


def main(argv: list[str]) -> int:
    from llama_cpp import Llama

    from sqlchat.config import Settings
    from sqlchat.models.store import installed_gguf

    if argv:
        path = argv[0]
        if not Path(path).is_file():
            print(f"[check] no model file at {path}", file=sys.stderr)
            return 2
    else:
        settings = Settings.from_env()
        found = installed_gguf(settings.model.model, settings.model.cache_dir)
        if found is None:
            print("[check] the default model does not run on llama.cpp: nothing to check")
            return 0
        path = str(found[1])
    llama = Llama(path, n_ctx=1024, n_batch=512, n_threads=1, verbose=False)
    prompt = llama.tokenize(b"CREATE TABLE Invoice (InvoiceId INTEGER, Total NUMERIC);\n" * 25)
    llama.eval(prompt)  # one batch of a few hundred tokens: the path that crashes when built for other instructions
    print(f"[check] llama.cpp read a {len(prompt)}-token prompt on this CPU: {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
