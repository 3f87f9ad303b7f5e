#!/usr/bin/env python3
"""Tests of scripts/dump_hf_logits.py's --topk writer (practice.md §10.6's stored top-k teacher).

    python3 scripts/test_dump_hf_logits.py          (needs torch; the end-to-end case also transformers,
                                                     tokenizers and safetensors, else it is skipped)

The reference is plain Python floats: the order by (-log-prob, id) and the tail's logsumexp written
out with math.fsum, independent of the torch code under test.
"""

import json
import math
import os
import random
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dump_hf_logits  # noqa: E402

try:
    import torch
except ImportError:
    torch = None


def lse(xs):
    m = max(xs)
    if m == -math.inf:
        return -math.inf
    return m + math.log(math.fsum(math.exp(x - m) for x in xs))


def reference(row, k):
    """(ids, logprobs, tail) of one row of logits, in Python floats."""
    z = lse(row)
    lp = [x - z for x in row]
    order = sorted(range(len(row)), key=lambda j: (-lp[j], j))
    rest = [lp[j] for j in order[k:]]
    return order[:k], [lp[j] for j in order[:k]], lse(rest) if rest else -math.inf


@unittest.skipIf(torch is None, "torch is not installed")
class TopkWriter(unittest.TestCase):
    def topk(self, rows, k, **kw):
        return dump_hf_logits.teacher_topk(torch.tensor(rows, dtype=torch.float32), k, torch, **kw)

    def assert_matches_reference(self, rows, k, **kw):
        ids, lp, tail = self.topk(rows, k, **kw)
        self.assertEqual((ids.dtype, lp.dtype, tail.dtype), (torch.int32, torch.float32, torch.float32))
        self.assertEqual((tuple(ids.shape), tuple(lp.shape), tuple(tail.shape)), ((len(rows), k),) * 2 + ((len(rows),),))
        for i, row in enumerate(rows):
            # the reference sees the same float32 logits the writer does
            r_ids, r_lp, r_tail = reference([float(torch.tensor(x, dtype=torch.float32)) for x in row], k)
            self.assertEqual(ids[i].tolist(), r_ids, f"row {i}")
            for got, want in zip(lp[i].tolist(), r_lp):
                self.assertTrue(got == want or abs(got - want) <= 1e-6 * max(1.0, abs(want)), (i, got, want))
            got = float(tail[i])
            self.assertTrue(got == r_tail or abs(got - r_tail) <= 1e-6 * max(1.0, abs(r_tail)), (i, got, r_tail))

    def test_random_rows_in_several_chunks(self):
        rng = random.Random(7)
        rows = [[rng.gauss(0.0, 3.0) for _ in range(50)] for _ in range(37)]
        for k in (1, 5, 49, 50):
            # 24 B per logit: 2,400 bytes is two rows a chunk, so 19 chunks, the last one short
            self.assert_matches_reference(rows, k, max_chunk_bytes=2400)

    def test_ties_put_the_lower_id_first(self):
        rows = [[1.0, 3.0, 3.0, 2.0, 3.0], [0.0] * 5]
        ids, lp, _ = self.topk(rows, 2)
        self.assertEqual(ids.tolist(), [[1, 2], [0, 1]])
        ids, _, _ = self.topk(rows, 4)
        self.assertEqual(ids.tolist(), [[1, 2, 4, 3], [0, 1, 2, 3]])
        self.assert_matches_reference(rows, 2)

    def test_a_tiny_tail_survives(self):
        # p = (1/2, 1/2, 1e-44, 1e-44) up to 1e-44: 1 - Σ top-2 is 0 in any float, the tail is 2e-44/2.
        ids, lp, tail = self.topk([[0.0, 0.0, -100.0, -100.0]], 2)
        self.assertEqual(ids.tolist(), [[0, 1]])
        self.assertAlmostEqual(float(tail[0]), -100.0, places=4)
        naive = math.log1p(-math.fsum(math.exp(x) for x in lp[0].tolist())) if lp[0].exp().sum() < 1 else -math.inf
        self.assertNotAlmostEqual(naive, -100.0, places=0)  # what the subtraction would have stored

    def test_full_k_has_an_empty_tail_and_minus_inf_logits_come_last(self):
        ids, lp, tail = self.topk([[0.0, float("-inf"), 0.0]], 3)
        self.assertEqual(ids.tolist(), [[0, 2, 1]])
        self.assertEqual(lp[0, 2].item(), float("-inf"))
        self.assertAlmostEqual(lp[0, 0].item(), -math.log(2.0), places=6)
        self.assertEqual(tail[0].item(), float("-inf"))
        # a -inf logit outside the top k adds nothing to the tail
        _, _, tail = self.topk([[0.0, float("-inf"), -1.0]], 1)
        self.assertAlmostEqual(tail[0].item(), -1.0 - math.log(1.0 + math.exp(-1.0)), places=6)

    def test_bad_input_is_an_error_naming_the_problem(self):
        for rows, k, needle in [
            ([[0.0, 1.0]], 0, "out of range; expected 1..2"),
            ([[0.0, 1.0]], 3, "out of range; expected 1..2"),
            ([[0.0, float("nan")]], 1, "position 0 hold NaN or +inf"),
            ([[0.0, 1.0], [float("inf"), 0.0]], 1, "position 1 hold NaN or +inf"),
            ([[float("-inf")] * 2], 1, "position 0 are all -inf"),
        ]:
            with self.assertRaises(ValueError) as cm:
                self.topk(rows, k)
            self.assertIn(needle, str(cm.exception))


def have_hf():
    try:
        import safetensors  # noqa: F401
        import tokenizers  # noqa: F401
        import transformers  # noqa: F401

        return torch is not None
    except ImportError:
        return False


@unittest.skipUnless(have_hf(), "transformers, tokenizers or safetensors is not installed")
class EndToEnd(unittest.TestCase):
    """dump_hf_logits.main on a tiny random GPT-2 with a word-level tokenizer, made here (no download)."""

    def setUp(self):
        from tokenizers import Tokenizer, models, pre_tokenizers
        from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

        self.dir = tempfile.TemporaryDirectory()
        d = self.dir.name
        words = "the cat sat on a mat and dog ran to red big house".split()
        vocab = {w: i for i, w in enumerate(["<unk>"] + words)}
        tok = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
        tok.pre_tokenizer = pre_tokenizers.Whitespace()
        fast = PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="<unk>")
        torch.manual_seed(0)
        # 24 output classes for a 14-token vocabulary (a padded output layer, as is common): V = 24.
        model = GPT2LMHeadModel(GPT2Config(vocab_size=24, n_positions=64, n_embd=16, n_layer=1, n_head=2))
        self.model_dir = os.path.join(d, "tiny")
        model.save_pretrained(self.model_dir)
        fast.save_pretrained(self.model_dir)
        self.text = os.path.join(d, "text.txt")
        with open(self.text, "w", encoding="utf-8") as f:
            f.write("the cat sat on a mat and the dog ran to a big red house " * 3)

    def tearDown(self):
        self.dir.cleanup()

    def dump(self, name, *extra):
        from safetensors import safe_open

        out = os.path.join(self.dir.name, name)
        argv = ["--teacher", self.model_dir, "--student", self.model_dir, "--text", self.text]
        dump_hf_logits.main(argv + ["--out", out, "--device", "cpu", "--dtype", "f32", "--window", "8", *extra])
        with safe_open(out, framework="pt") as f:
            return {k: f.get_tensor(k) for k in f.keys()}, f.metadata()

    def test_topk_file_matches_the_full_teacher(self):
        full, full_meta = self.dump("full.safetensors")
        top, meta = self.dump("top.safetensors", "--topk", "4")
        self.assertEqual(set(full), {"teacher_logits", "student_logits", "labels"})
        self.assertEqual(set(top), {"teacher_topk_ids", "teacher_topk_logprobs", "teacher_tail_logprob", "student_logits", "labels"})
        t, v = full["teacher_logits"].shape
        self.assertEqual(v, 24)
        self.assertEqual(tuple(top["teacher_topk_ids"].shape), (t, 4))
        self.assertEqual(top["teacher_topk_ids"].dtype, torch.int32)
        self.assertEqual(top["teacher_topk_logprobs"].dtype, torch.float32)
        self.assertEqual(tuple(top["teacher_tail_logprob"].shape), (t,))
        self.assertTrue(torch.equal(top["student_logits"], full["student_logits"]))
        self.assertTrue(torch.equal(top["labels"], full["labels"]))
        self.assertEqual((meta["vocab"], meta["topk"]), ("24", "4"))
        self.assertEqual(json.loads(meta["contexts"]), json.loads(full_meta["contexts"]))
        for i in range(t):
            r_ids, r_lp, r_tail = reference(full["teacher_logits"][i].tolist(), 4)
            self.assertEqual(top["teacher_topk_ids"][i].tolist(), r_ids)
            for got, want in zip(top["teacher_topk_logprobs"][i].tolist(), r_lp):
                self.assertAlmostEqual(got, want, places=5)
            self.assertAlmostEqual(top["teacher_tail_logprob"][i].item(), r_tail, places=5)
            # top mass and tail mass make one
            mass = math.fsum(math.exp(x) for x in top["teacher_topk_logprobs"][i].tolist()) + math.exp(r_tail)
            self.assertAlmostEqual(mass, 1.0, places=5)

    def test_topk_above_the_vocabulary_is_refused(self):
        with self.assertRaises(SystemExit) as cm:
            self.dump("bad.safetensors", "--topk", "25")
        self.assertIn("--topk 25 is out of range; expected 1..24", str(cm.exception))


if __name__ == "__main__":
    unittest.main()
