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

With --topk K the teacher is stored as its top K classes per position instead of teacher_logits (the
format of shared/spec/practice.md §10.6; everything else in the file stays as above):

    teacher_topk_ids       [T, K]  int32    the K classes of largest teacher log-probability, in
                                            decreasing order; equal log-probs: lower id first
    teacher_topk_logprobs  [T, K]  float32  their log-probabilities, log_softmax of the teacher's
                                            logits over all V classes (computed in float64)
    teacher_tail_logprob   [T]     float32  log(1 - sum(exp(teacher_topk_logprobs))), the log of the
                                            mass outside the top K, computed as the logsumexp of the
                                            other V - K log-probs (not by subtraction, which loses a
                                            small tail); -inf when K = V (empty tail)
    __metadata__           also "vocab": V and "topk": K (decimal strings); V is otherwise not in the
                           file when there is no student

The log-probs are of the teacher's raw logits (temperature 1): kdviz applies no teacher-side key
(tt, softcap, std, tprecision) to a stored top-k teacher. --dtype then applies to student_logits only.

Teacher and student must share the tokenizer. Their output layers may be padded to different sizes
(common): both are cut to the smaller V, which must still cover the tokenizer.

Example:
    python3 scripts/dump_hf_logits.py --teacher Qwen/Qwen2.5-1.5B --student Qwen/Qwen2.5-0.5B \\
        --text some.txt --max-tokens 2048 --out qwen.safetensors
    kdviz real --input qwen.safetensors --tokens tokens.json --div fkl --div rkl
    python3 scripts/dump_hf_logits.py --teacher Qwen/Qwen2.5-1.5B --student Qwen/Qwen2.5-0.5B \
        --text some.txt --topk 64 --out qwen-top64.safetensors

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
    ap.add_argument(
        "--topk",
        type=int,
        default=None,
        metavar="K",
        help="store the teacher as its top K log-probs per position (teacher_topk_ids, teacher_topk_logprobs, "
        "teacher_tail_logprob) instead of teacher_logits; K in 1..V",
    )
    args = ap.parse_args(argv)
    if args.max_tokens < 1:
        ap.error("--max-tokens must be at least 1")
    if args.topk is not None and args.topk < 1:
        ap.error(f"--topk {args.topk}: expected an integer K >= 1 (at most the vocabulary size V)")
    if args.window < 0 or args.window == 1:
        ap.error("--window must be 0 (automatic) or at least 2")
    return args


def teacher_topk(logits, k, torch, max_chunk_bytes=256 << 20):
    """The top-k form of a teacher (module docstring, --topk): from logits [N, V] (any float dtype)
    returns (ids [N, k] int32, logprobs [N, k] float32, tail [N] float32).

    log_softmax runs in float64. A stable descending sort puts equal log-probs in increasing id order
    (torch.topk makes no promise about ties). The tail is the logsumexp of the V - k sorted log-probs
    after the first k, so a tail of 1e-30 stays -69.1 instead of log(1 - 0.999...) = log(0) or noise;
    with k = V it is -inf. Rows are done a chunk at a time to bound the float64 copies."""
    if logits.dim() != 2:
        raise ValueError(f"teacher logits have shape {tuple(logits.shape)}; expected [N, V]")
    n, v = logits.shape
    if not 1 <= k <= v:
        raise ValueError(f"--topk {k} is out of range; expected 1..{v} (the vocabulary size V)")
    bad = torch.isnan(logits) | (logits == float("inf"))
    if bool(bad.any()):
        row = int(bad.any(dim=1).nonzero()[0])
        raise ValueError(f"teacher logits at position {row} hold NaN or +inf; expected finite numbers or -inf")
    dead = (logits == float("-inf")).all(dim=1)
    if bool(dead.any()):
        row = int(dead.nonzero()[0])
        raise ValueError(f"teacher logits at position {row} are all -inf; expected at least one finite logit")
    ids = torch.empty(n, k, dtype=torch.int32)
    logprobs = torch.empty(n, k, dtype=torch.float32)
    tail = torch.empty(n, dtype=torch.float32)
    # float64 row, its sort values and int64 sort indices: 24 bytes per logit.
    rows = max(1, min(n, max_chunk_bytes // (24 * v)))
    for lo in range(0, n, rows):
        lp = torch.log_softmax(logits[lo : lo + rows].to(device="cpu", dtype=torch.float64), dim=-1)
        values, order = torch.sort(lp, dim=-1, descending=True, stable=True)
        ids[lo : lo + rows] = order[:, :k].to(torch.int32)
        logprobs[lo : lo + rows] = values[:, :k].to(torch.float32)
        if k < v:
            tail[lo : lo + rows] = torch.logsumexp(values[:, k:], dim=-1).to(torch.float32)
        else:
            tail[lo : lo + rows] = float("-inf")
    return ids, logprobs, tail


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
    if args.topk is not None and args.topk > v:
        sys.exit(f"dump_hf_logits: --topk {args.topk} is out of range; expected 1..{v} (the models' classes)")
    tensors = {"labels": torch.tensor(ids[1:], dtype=torch.int64)}
    if args.topk is None:
        tensors["teacher_logits"] = t_logits[:, :v].to(out_dtype).contiguous()
    else:
        try:
            top_ids, top_lp, tail = teacher_topk(t_logits[:, :v], args.topk, torch)
        except ValueError as e:
            sys.exit(f"dump_hf_logits: {e}")
        tensors["teacher_topk_ids"] = top_ids
        tensors["teacher_topk_logprobs"] = top_lp
        tensors["teacher_tail_logprob"] = tail
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
    if args.topk is not None:
        metadata.update(vocab=str(v), topk=str(args.topk))
    save_file(tensors, args.out, metadata=metadata)

    tokens_path = args.tokens or os.path.join(os.path.dirname(os.path.abspath(args.out)), "tokens.json")
    vocab = tok.convert_ids_to_tokens(list(range(n_vocab)))
    with open(tokens_path, "w", encoding="utf-8") as f:
        json.dump(vocab, f, ensure_ascii=False)
    t = len(ids) - 1
    teacher_form = f"{args.dtype}" if args.topk is None else f"teacher top-{args.topk} log-probs + tail"
    print(
        f"wrote {args.out}: {t} positions x {v} classes ({teacher_form})"
        + (f", with student_logits ({args.dtype})" if s_logits is not None else "")
        + f"; {tokens_path}: {n_vocab} tokens",
        file=sys.stderr,
    )


if __name__ == "__main__":
    main()
