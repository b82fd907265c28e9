"""NAS-Bench-101 space: the official module hash, the cell rules, sampling, tokens, repair.

The hash is checked against real module hashes (../shared/data/nb101_subset.csv.gz and the
example cell of PROVENANCE.md); the space definition against the benchmark's published
size (423,624 distinct cells). Small spaces (max 5 vertices) are enumerated exhaustively
to test uniform sampling and hash uniqueness.
"""

from __future__ import annotations

import csv
import gzip
import itertools
import json
from collections import Counter

import numpy as np
import pytest
from conftest import NB101_CSV, need
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from tnao_app.benchmarks import nb101
from tnao_app.benchmarks.nb101 import OPS, SPACE, NB101Space, module_hash
from tnao_app.errors import UnknownArchError

C3, C1, MP = OPS
# The example cell of PROVENANCE.md (row 00005c142e6f48ac74fdcf73e3439874).
EXAMPLE_ADJ = "0100110001000000010010000010000001000000010000000"
EXAMPLE_OPS = ["input", C3, "maxpool3x3", C3, C3, C1, "output"]
EXAMPLE_HASH = "00005c142e6f48ac74fdcf73e3439874"


def matrix_of(adj: str, v: int) -> list[list[int]]:
    return [[int(adj[a * v + b]) for b in range(v)] for a in range(v)]


def example_arch():
    return SPACE.from_spec(matrix_of(EXAMPLE_ADJ, 7), EXAMPLE_OPS)


def relabel(arch, order):
    """The same cell with its middle vertices in another (topological) ``order``."""
    matrix, ops = arch
    v = len(ops)
    perm = [0, *order, v - 1]
    m = tuple(tuple(matrix[perm[a]][perm[b]] for b in range(v)) for a in range(v))
    return m, tuple(ops[p] for p in perm)


# --------------------------------------------------------------------------- hash


def test_hash_of_provenance_example():
    assert module_hash(*example_arch()) == EXAMPLE_HASH
    assert SPACE.canonical_id(example_arch()) == EXAMPLE_HASH


def test_hash_reproduces_all_shared_rows_with_adjacency():
    n = 0
    with gzip.open(need(NB101_CSV), "rt", newline="") as f:
        for row in csv.DictReader(f):
            if not row["adjacency_rowmajor"]:
                continue
            ops = row["operations"].split(",")
            arch = SPACE.from_spec(matrix_of(row["adjacency_rowmajor"], len(ops)), ops)
            assert module_hash(*arch) == row["module_hash"], row["module_hash"]
            n += 1
    assert n == 1000


def test_hash_is_invariant_under_relabelling():
    arch = example_arch()
    matrix = arch[0]
    seen = 0
    for order in itertools.permutations(range(1, 6)):
        cand = relabel(arch, order)
        if any(cand[0][a][b] for a in range(7) for b in range(a + 1)):
            continue  # not upper-triangular: not a valid labelling
        seen += 1
        assert SPACE.is_valid(cand)
        assert module_hash(*cand) == EXAMPLE_HASH
    assert seen > 1 and matrix == arch[0]


# --------------------------------------------------------------------------- space size


def test_enumeration_has_the_published_423624_cells():
    n = sum(1 for _ in SPACE.enumerate_cells())
    assert n == nb101.N_CELLS == 423_624


def _all_labelled_forms(space: NB101Space):
    """Every valid (matrix, ops) of a small space, by brute force over matrices."""
    for v in range(2, space.n + 1):
        pairs = [(a, b) for a in range(v) for b in range(a + 1, v)]
        for bits in itertools.product((0, 1), repeat=len(pairs)):
            m = [[0] * v for _ in range(v)]
            for (a, b), x in zip(pairs, bits, strict=True):
                m[a][b] = x
            for lab in itertools.product(OPS, repeat=v - 2):
                ops = ("input", *lab, "output")
                arch = (tuple(map(tuple, m)), ops)
                if space.is_valid(arch):
                    yield arch


def test_small_space_enumeration_matches_brute_force_hashes():
    space = NB101Space(max_vertices=5, max_edges=6)
    reps = list(space.enumerate_cells())
    rep_hashes = {module_hash(*a) for a in reps}
    assert len(rep_hashes) == len(reps)  # one representative per class
    brute = {module_hash(*a) for a in _all_labelled_forms(space)}
    assert brute == rep_hashes


def test_sample_is_uniform_over_distinct_cells():
    # 5 vertices: 2,532 cells, up to 3 middle vertices to relabel (automorphisms matter).
    space = NB101Space(max_vertices=5, max_edges=9)
    classes = {space.canonical_id(a) for a in space.enumerate_cells()}
    rng = np.random.default_rng(7)
    draws = 10 * len(classes)
    counts = Counter(space.canonical_id(space.sample(rng)) for _ in range(draws))
    assert set(counts) <= classes
    observed = np.array([counts.get(h, 0) for h in sorted(classes)])
    p = stats.chisquare(observed).pvalue
    assert p > 1e-3, p
    # The official random_spec (uniform matrices and ops, then prune) is far from
    # uniform over cells: the same test rejects it, so the test has teeth.
    naive = Counter()
    while sum(naive.values()) < draws:
        m = np.triu(rng.integers(0, 2, size=(5, 5)), 1)
        ops = ["input", *(OPS[i] for i in rng.integers(0, 3, size=3)), "output"]
        try:
            naive[space.canonical_id(space.from_spec(m.tolist(), ops))] += 1
        except UnknownArchError:
            pass
    biased = np.array([naive.get(h, 0) for h in sorted(classes)])
    assert stats.chisquare(biased).pvalue < 1e-6


def test_sample_matches_vertex_count_distribution_of_the_benchmark():
    by_v = Counter(len(ops) for _, ops in SPACE.enumerate_cells())
    rng = np.random.default_rng(3)
    got = Counter(len(SPACE.sample(rng)[1]) for _ in range(3000))
    expect = np.array([by_v[v] for v in range(2, 8)], dtype=float)
    observed = np.array([got[v] for v in range(2, 8)])
    # Merge the tiny classes (2..5 vertices) so the chi-square approximation holds.
    e = np.array([expect[:4].sum(), expect[4], expect[5]]) / expect.sum() * 3000
    o = np.array([observed[:4].sum(), observed[4], observed[5]])
    assert stats.chisquare(o, e).pvalue > 1e-3


# --------------------------------------------------------------------------- rules


def test_validity_rules():
    arch = example_arch()
    assert SPACE.is_valid(arch)
    m, ops = arch
    assert not SPACE.is_valid((m, ops[:-1] + ("maxpool3x3",)))  # no output
    assert not SPACE.is_valid((m, ("input", "conv5x5", *ops[2:])))  # unknown op
    lower = [list(r) for r in m]
    lower[3][1] = 1
    assert not SPACE.is_valid((tuple(map(tuple, lower)), ops))  # not upper-triangular
    # A dangling vertex (no path to the output) is not a pruned cell.
    dangling = ((0, 1, 1), (0, 0, 0), (0, 0, 0)), ("input", C3, "output")
    assert not SPACE.is_valid(dangling)
    # 10 edges: too many, even though every vertex is on a path.
    full = [[0] * 7 for _ in range(7)]
    for a, b in [(0, 1), (1, 2), (2, 3), (3, 4), (4, 5), (5, 6), (0, 2), (0, 3), (0, 4), (0, 5)]:
        full[a][b] = 1
    ten = (tuple(map(tuple, full)), ("input", C3, C3, C3, C3, C3, "output"))
    assert not SPACE.is_valid(ten)
    assert not SPACE.is_valid("nonsense")
    assert SPACE.is_valid((((0, 1), (0, 0)), ("input", "output")))


def test_from_spec_prunes_like_the_official_api_and_rejects_bad_cells():
    # Vertex 2 reaches nothing: pruned away, leaving input -> conv -> output.
    m = [[0, 1, 1, 0], [0, 0, 0, 1], [0, 0, 0, 0], [0, 0, 0, 0]]
    arch = SPACE.from_spec(m, ["input", C3, MP, "output"])
    assert arch == (((0, 1, 0), (0, 0, 1), (0, 0, 0)), ("input", C3, "output"))
    with pytest.raises(UnknownArchError, match="no path"):
        SPACE.from_spec([[0, 0], [0, 0]], ["input", "output"])
    with pytest.raises(UnknownArchError, match="upper-triangular"):
        SPACE.from_spec([[0, 1], [1, 0]], ["input", "output"])
    with pytest.raises(UnknownArchError, match="conv5x5"):
        SPACE.from_spec([[0, 1, 0], [0, 0, 1], [0, 0, 0]], ["input", "conv5x5", "output"])
    with pytest.raises(UnknownArchError, match="8 vertices"):
        SPACE.from_spec(np.triu(np.ones((8, 8), int), 1).tolist(), ["input", *[C3] * 6, "output"])


def test_native_round_trip_and_errors():
    rng = np.random.default_rng(1)
    for _ in range(50):
        a = SPACE.sample(rng)
        text = SPACE.to_native(a)
        assert json.loads(text)["ops"][0] == "input"
        assert SPACE.from_native(text) == a
    # The official row-major string and comma-separated ops are accepted too.
    text = json.dumps({"matrix": EXAMPLE_ADJ, "ops": ",".join(EXAMPLE_OPS)})
    assert SPACE.canonical_id(SPACE.from_native(text)) == EXAMPLE_HASH
    for bad in (
        "",
        "[1, 2]",
        '{"matrix": "0110", "ops": ["input"]}',
        '{"matrix": [[0, 1], [0, 0]], "ops": ["input", "relu"]}',
    ):
        with pytest.raises(UnknownArchError):
            SPACE.from_native(bad)


# --------------------------------------------------------------------------- tokens


def test_tokens_layout_and_round_trip():
    assert SPACE.seq_len == 26 and SPACE.vocab_size == 6
    a = example_arch()
    t = SPACE.to_tokens(a)
    assert t.shape == (26,) and set(t[:21].tolist()) <= {0, 1} and set(t[21:].tolist()) <= {2, 3, 4}
    small = (((0, 1, 0), (0, 0, 1), (0, 0, 0)), ("input", MP, "output"))
    ts = SPACE.to_tokens(small)
    # maxpool at slot 1, slots 2..5 absent, edges 0->1 and 1->6 (the output's slot).
    assert ts[21:].tolist() == [4, 5, 5, 5, 5]
    assert {k for k in range(21) if ts[k]} == {0, SPACE._pair_index[1][6]}
    rng = np.random.default_rng(2)
    for _ in range(300):
        a = SPACE.sample(rng)
        assert SPACE.from_tokens(SPACE.to_tokens(a)) == a
        one_hot = np.eye(6)[SPACE.to_tokens(a)] * 5.0
        assert SPACE.decode(one_hot) == a


def test_fast_spec_tokens_agree_with_from_spec():
    for i, (m, ops) in enumerate(SPACE.enumerate_cells()):
        if i % 997:
            continue
        adj = "".join(str(x) for r in m for x in r)
        fast = SPACE.spec_tokens(adj, ",".join(ops))
        assert fast is not None
        assert np.frombuffer(fast, np.int8).tolist() == SPACE.to_tokens((m, ops)).tolist()
    # Anything unusual goes to the slow path (which prunes or explains).
    assert SPACE.spec_tokens("0110", "input,output") is None
    assert SPACE.spec_tokens("0b01", "input,output") is None
    assert SPACE.spec_tokens("0100", "input,conv3x3-bn-relu,output") is None
    assert SPACE.spec_tokens("0100", "input,output") is not None


def test_all_minus_one_row_is_unknown():
    with pytest.raises(UnknownArchError, match="module hash"):
        SPACE.from_tokens([-1] * 26)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.integers(-3, 8), min_size=0, max_size=30))
def test_from_tokens_always_repairs_to_a_valid_cell(tokens):
    if tokens and all(t == -1 for t in tokens):
        return
    arch = SPACE.from_tokens(tokens)
    assert SPACE.is_valid(arch)


def test_repair_connects_and_trims_edges():
    # No edge at all: the repair adds a path (with no edge preferred, the shortest).
    t = [0] * 21 + [2, 5, 5, 5, 5]
    arch = SPACE.from_tokens(t)
    assert SPACE.is_valid(arch)
    # All 21 edges, all vertices: trimmed to <= 9 edges, still valid.
    arch = SPACE.from_tokens([1] * 21 + [2, 3, 4, 2, 3])
    assert SPACE.is_valid(arch) and sum(map(sum, arch[0])) <= 9


def test_decode_drops_the_least_likely_edges_and_masks_tokens():
    logits = np.zeros((26, 6))
    # A chain 0->1->...->6 wanted strongly, every other edge mildly, op tokens sure.
    chain = {SPACE._pair_index[i][i + 1] for i in range(6)}
    for k in range(21):
        logits[k, 1] = 10.0 if k in chain else 1.0 + 0.01 * k
    logits[21:, 2] = 3.0
    # Tokens that cannot stand at a position are masked: a huge 'maxpool' logit at an
    # edge position does not matter, a huge 'edge' logit at an op position neither.
    logits[0, 4] = 100.0
    logits[22, 1] = 100.0
    arch = SPACE.decode(logits)
    assert SPACE.is_valid(arch)
    matrix, ops = arch
    assert len(ops) == 7 and ops[1:-1] == (C3,) * 5
    kept = {SPACE._pair_index[a][b] for a in range(7) for b in range(7) if matrix[a][b]}
    assert chain <= kept and len(kept) == 9
    # The 3 extra edges kept are the most likely of the mild ones.
    extra = sorted(kept - chain)
    mild = sorted(set(range(21)) - chain)
    assert extra == mild[-3:]


def test_decode_prefers_the_most_likely_path_when_disconnected():
    logits = np.zeros((26, 6))
    logits[:21, 0] = 5.0  # no edge wanted anywhere ...
    k01, k16 = SPACE._pair_index[0][1], SPACE._pair_index[1][6]
    logits[k01, 1] = 4.0  # ... but 0->1 and 1->6 are the least unlikely
    logits[k16, 1] = 4.5
    logits[21:, 3] = 1.0  # all conv1x1
    arch = SPACE.decode(logits)
    assert arch == (((0, 1, 0), (0, 0, 1), (0, 0, 0)), ("input", C1, "output"))


def test_decode_of_random_logits_gives_valid_cells():
    rng = np.random.default_rng(0)
    batch = rng.normal(size=(200, 26, 6))
    assert all(SPACE.is_valid(SPACE.decode(x)) for x in batch)


# --------------------------------------------------------------------------- mutation


def test_mutate_gives_a_different_valid_neighbour():
    rng = np.random.default_rng(5)
    tiny = (((0, 1), (0, 0)), ("input", "output"))
    for a in [tiny, example_arch(), *(SPACE.sample(rng) for _ in range(200))]:
        b = SPACE.mutate(a, rng)
        assert SPACE.is_valid(b)
        assert SPACE.canonical_id(b) != SPACE.canonical_id(a)
    # Mostly one token away.
    dist = []
    for _ in range(200):
        a = SPACE.sample(rng)
        b = SPACE.mutate(a, rng)
        dist.append(int((SPACE.to_tokens(a) != SPACE.to_tokens(b)).sum()))
    assert np.median(dist) <= 2


def test_token_relations_are_symmetric():
    rel = SPACE.token_relations()
    assert rel.shape == (26, 26) and (rel == rel.T).all() and rel.diagonal().all()
