#!/usr/bin/env python3
"""Dump teacher (and student) next-token logits of Hugging Face causal LMs on a text, for kdviz.

Writes a .safetensors file that `kdviz real --input FILE` and the app's real-model tab read:

    teacher_logits  [T, V]  bf16 (default), f16 or f32   row i: logits after tokens 0..i of the text
    student_logits  [T, V]  same dtype                     the student's logits at the same positions
    labels          [T]     int64                          token i+1, the token that actually came next
    __metadata__    {"contexts": JSON list of T strings (the text before each position),
                     "teacher": ..., "student": ..., "text": ...}

and a tokens file (default: tokens.json next to the output), the tokenizer's vocabulary as a JSON list
of token strings by id, which kdviz turns into readable labels (`--tokens tokens.json`).

Teacher and student must share the tokenizer. Their output layers may be padded to different sizes
(common): both are cut to the smaller V, which must still cover the tokenizer.

Example:
    python3 scripts/dump_hf_logits.py --teacher Qwen/Qwen2.5-1.5B --student Qwen/Qwen2.5-0.5B \\
        --text some.txt --max-tokens 2048 --out qwen.safetensors
    kdviz real --input qwen.safetensors --tokens tokens.json --div fkl --div rkl

Needs: torch, transformers, safetensors (pip install torch transformers safetensors).
"""

import argparse
import json
import os
import sys


def parse_args(argv=None):
    ap = argparse.ArgumentParser(
        description="Dump teacher/student next-token logits of Hugging Face causal LMs for kdviz.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    ap.add_argument("--teacher", required=True, help="teacher model name or path")
    ap.add_argument("--student", help="student model name or path (same tokenizer); omit for teacher only")
    ap.add_argument("--text", required=True, help="UTF-8 text file to run the models on")
    ap.add_argument("--out", required=True, help="output .safetensors file")
    ap.add_argument("--tokens", help="token list output (default: tokens.json beside --out)")
    ap.add_argument("--max-tokens", type=int, default=2048, help="at most this many positions T")
    ap.add_argument(
        "--window",
        type=int,
        default=0,
        help="tokens per forward pass (0: the model's context length, at most 4096); longer texts are "
        "split into windows overlapping by one token",
    )
    ap.add_argument("--dtype", choices=["bf16", "f16", "f32"], default="bf16", help="dtype of the saved logits")
    ap.add_argument(
        "--model-dtype",
        choices=["auto", "bf16", "f16", "f32"],
        default="auto",
        help="dtype the models run in (auto: bf16 on CUDA, f32 on CPU)",
    )
    ap.add_argument("--device", default=None, help="cuda, cuda:1, cpu ... (default: cuda if available)")
    ap.add_argument("--context-chars", type=int, default=60, help="characters of text kept per position context")
    ap.add_argument("--trust-remote-code", action="store_true", help="pass trust_remote_code=True to transformers")
    args = ap.parse_args(argv)
    if args.max_tokens < 1:
        ap.error("--max-tokens must be at least 1")
    if args.window < 0 or args.window == 1:
        ap.error("--window must be 0 (automatic) or at least 2")
    return args


def main(argv=None):
    args = parse_args(argv)
    try:
        import torch
        from safetensors.torch import save_file
        from transformers import AutoModelForCausalLM, AutoTokenizer
    except ImportError as e:
        sys.exit(f"dump_hf_logits: {e}; expected torch, transformers and safetensors installed")

    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    dtypes = {"bf16": torch.bfloat16, "f16": torch.float16, "f32": torch.float32}
    model_dtype = (
        dtypes[args.model_dtype]
        if args.model_dtype != "auto"
        else (torch.bfloat16 if device.startswith("cuda") else torch.float32)
    )
    out_dtype = dtypes[args.dtype]

    with open(args.text, encoding="utf-8") as f:
        text = f.read()
    tok = AutoTokenizer.from_pretrained(args.teacher, trust_remote_code=args.trust_remote_code)
    if args.student:
        stok = AutoTokenizer.from_pretrained(args.student, trust_remote_code=args.trust_remote_code)
        if stok.get_vocab() != tok.get_vocab():
            sys.exit(
                "dump_hf_logits: the teacher's and the student's tokenizers differ; expected models "
                "that share one tokenizer (the logits must index the same vocabulary)"
            )

    # T positions need T + 1 tokens: position i predicts token i + 1.
    ids = tok(text, add_special_tokens=True)["input_ids"][: args.max_tokens + 1]
    if len(ids) < 2:
        sys.exit(f"dump_hf_logits: {args.text} gives {len(ids)} token(s); expected at least 2")

    def load(name):
        m = AutoModelForCausalLM.from_pretrained(
            name, torch_dtype=model_dtype, trust_remote_code=args.trust_remote_code
        )
        return m.to(device).eval()

    def window_size(model):
        if args.window:
            return args.window
        ctx = getattr(model.config, "max_position_embeddings", None) or 4096
        return max(2, min(int(ctx), 4096))

    @torch.no_grad()
    def logits_of(model):
        """[T, V] float32 on the CPU: windows of W tokens, each next one starting at the previous
        one's last token, so that every transition i -> i+1 is predicted exactly once."""
        w = window_size(model)
        rows = []
        start = 0
        while start < len(ids) - 1:
            chunk = ids[start : start + w]
            x = torch.tensor([chunk], device=device)
            out = model(input_ids=x).logits[0, : len(chunk) - 1]
            rows.append(out.float().cpu())
            start += len(chunk) - 1
        return torch.cat(rows)

    print(f"teacher {args.teacher} on {device} ({model_dtype}) ...", file=sys.stderr)
    teacher = load(args.teacher)
    t_logits = logits_of(teacher)
    del teacher
    if device.startswith("cuda"):
        torch.cuda.empty_cache()
    s_logits = None
    if args.student:
        print(f"student {args.student} ...", file=sys.stderr)
        student = load(args.student)
        s_logits = logits_of(student)
        del student

    n_vocab = len(tok)
    v = t_logits.shape[1] if s_logits is None else min(t_logits.shape[1], s_logits.shape[1])
    if v < n_vocab:
        sys.exit(
            f"dump_hf_logits: the models have {v} output classes but the tokenizer has {n_vocab} "
            "tokens; expected an output layer covering the tokenizer"
        )
    tensors = {
        "teacher_logits": t_logits[:, :v].to(out_dtype).contiguous(),
        "labels": torch.tensor(ids[1:], dtype=torch.int64),
    }
    if s_logits is not None:
        tensors["student_logits"] = s_logits[:, :v].to(out_dtype).contiguous()

    # Context of position i: the text of tokens 0..i, last --context-chars characters.
    contexts = []
    for i in range(len(ids) - 1):
        lo = max(0, i - 32)
        contexts.append(tok.decode(ids[lo : i + 1])[-args.context_chars :])
    metadata = {
        "contexts": json.dumps(contexts, ensure_ascii=False),
        "teacher": args.teacher,
        "student": args.student or "",
        "text": os.path.basename(args.text),
    }
    save_file(tensors, args.out, metadata=metadata)

    tokens_path = args.tokens or os.path.join(os.path.dirname(os.path.abspath(args.out)), "tokens.json")
    vocab = tok.convert_ids_to_tokens(list(range(n_vocab)))
    with open(tokens_path, "w", encoding="utf-8") as f:
        json.dump(vocab, f, ensure_ascii=False)
    t, _ = tensors["teacher_logits"].shape
    print(
        f"wrote {args.out}: {t} positions x {v} classes ({args.dtype})"
        + (", with student_logits" if s_logits is not None else "")
        + f"; {tokens_path}: {n_vocab} tokens",
        file=sys.stderr,
    )


if __name__ == "__main__":
    main()
