"""The help screen (``?`` / F1): the keys of the screen it was opened from, what that
screen shows, and a short glossary of the words the app uses."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Footer, Label, Static

#: what each screen shows, one short paragraph (keyed by a guide step, or "home")
SCREENS = {
    "home": "Every run recorded in the history (the CLI's too), newest first; click a "
    "column's header or press s to sort. Below: which benchmarks have data.",
    "benchmark": "The benchmark (a table of every architecture of a search space "
    "with its trained accuracy) and the dataset whose accuracy the run searches on.",
    "sampling": "The run's settings; ctrl+r starts it. While it samples: the "
    "search-signal accuracies of the architectures drawn to train the model.",
    "training": "Methods with a model: the Transformer auto-encoder's losses and "
    "how well its predictor ranks, epoch by epoch, every round one after the other.",
    "search": "The best architectures the search has found (predicted, then "
    "queried) and two charts: this round's convergence and the anytime curve.",
    "results": "The best architecture by search signal, with its reported "
    "accuracy and its rank among every architecture of the table.",
}

GLOSSARY = (
    (
        "query",
        "one look-up of an architecture's accuracy in the benchmark; the budget "
        "counts distinct queries, the sampled training set included",
    ),
    (
        "search signal",
        "the accuracy the search sees (validation); the metric reported is "
        "a separate one (test): valid and test columns",
    ),
    ("rec", "reconstruction loss: how well the decoder gives back the architecture"),
    ("rank", "ranking loss: how badly the predictor orders pairs of labelled architectures"),
    (
        "Kendall tau",
        "rank agreement of predicted and true accuracies, -1..1 (1 = same "
        "order); val tau on held-out labels, train tau on the training labels",
    ),
    ("predicted", "the model's score of an architecture (unitless; only its order counts)"),
    ("distinct", "different architectures the swarm has decoded to so far"),
    (
        "round",
        "one pass of train, search, evaluate; later rounds learn from the queries "
        "made so far (1-based here and in the CLI)",
    ),
    ("fine-tune", "a later round trains the same model a few epochs more on every label"),
    (
        "retrain",
        "a later round trains a new model from scratch (after a round found nothing better)",
    ),
    (
        "anytime curve",
        "best search signal found vs queries made: the usual way to compare "
        "NAS methods at every budget",
    ),
    (
        "true rank",
        "rank of the reported accuracy among every architecture of the table "
        "(1 = the best there is)",
    ),
    ("pct", "percentile of the reported accuracy in the table (100 = its best)"),
    (
        "cifar10-valid / x-valid",
        "NAS-Bench-201's validation accuracy on cifar10 (search "
        "signal); ori-test: its test accuracy (reported)",
    ),
    (
        "x-test, 12-epoch",
        "cifar100 / ImageNet16-120 search on 12-epoch validation and "
        "report 200-epoch test (NATS-Bench's protocol)",
    ),
    ("cifar10 (analog)", "AnalogNAS-Bench's baseline accuracy (digital hardware)"),
    ("cifar10-ptq", "accuracy after post-training quantization"),
    ("cifar10-qat", "accuracy after quantization-aware training"),
    ("cifar10-noisy", "accuracy with noise injected into the weights"),
    ("cifar10-analog", "accuracy on analog in-memory hardware (drift included)"),
)


def two_columns(rows: list[tuple[str, str]]) -> Text:
    """``rows`` as ``term  meaning`` lines, the terms bold and padded to one width."""
    width = max((len(a) for a, _ in rows), default=0) + 2
    text = Text()
    for i, (a, b) in enumerate(rows):
        text.append(("\n" if i else "") + a.ljust(width), style="bold")
        text.append(b)
    return text


class HelpScreen(ModalScreen[None]):
    """Keys and glossary for the screen below."""

    BINDINGS = [Binding("escape,q,f1,question_mark", "close", "Close", id="close")]

    def __init__(self, under: Screen) -> None:
        super().__init__(classes="dialog help")
        self.step = getattr(under, "STEP", "") or ("home" if under.id == "home" else "")
        # The keys as they stand on the screen below (enabled or not), before this opens.
        self.keys = [
            (self.app.get_key_display(b.binding), b.binding.description)
            for b in under.active_bindings.values()
            # the app's own (they have ids; sort and delete are not in the footer), not
            # Textual's defaults nor every cursor key of the focused table
            if b.binding.description and b.binding.id and "command_palette" not in b.binding.action
        ]

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="box"):
            yield Label("Help", id="title")
            if self.step in SCREENS:
                yield Static(Text(SCREENS[self.step]), id="help-screen")
            keys = [*dict(self.keys).items()]
            if self.step in ("search", "results"):
                keys.append(("enter", "the row in full: its whole architecture and numbers"))
            keys += [
                ("tab", "next field, shift+tab the one before"),
                ("ctrl+p", "command palette: every action, the theme, a screenshot"),
            ]
            yield Label("Keys", classes="section")
            yield Static(two_columns(keys), id="help-keys")
            yield Label("Glossary", classes="section")
            # a grid, so a long meaning wraps in its own column
            with Grid(id="help-glossary"):
                for term, meaning in GLOSSARY:
                    yield Static(term, classes="term")
                    yield Static(meaning, classes="meaning")
        yield Footer()

    def action_close(self) -> None:
        self.dismiss(None)
