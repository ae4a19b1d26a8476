"""`Tagger`: a trained model with its config and vocabularies; tags sentences and raw text; saves and loads.

A model is a directory:

    meta.json          format name and version, eiwa version, entity types, training summary
    config.json        every hyper-parameter (see config.py), the enabled features among them
    vocab.json         each feature's vocabularies and state (features.py), and the tags
    model.safetensors  the weights (and a pretrained vectors table, as float16)

meta.json also records each other file's sha256, checked on load (eiwa.persist.model_dir, which
reads older formats through eiwa.persist.migrations). A save builds the directory beside its
target and swaps it in whole (eiwa.persist.atomic), so an interrupted save never leaves a
half-written model, nor old and new files mixed.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from eiwa import __version__, arguments
from eiwa.config import Config
from eiwa.doc import Sentence, Span
from eiwa.errors import EiwaError, ModelError
from eiwa.features.encoder import Encoded, Encoder
from eiwa.inference import tag_encoded, token_marginals
from eiwa.model import NERModel
from eiwa.persist.atomic import dump_json, fault_point, read_json, replace_directory
from eiwa.persist.files import readable_file, what_is_there
from eiwa.persist.model_dir import FORMAT, FORMAT_VERSION, checksums, is_model_directory, read_meta, resolve_model
from eiwa.scoring import Scores, score, type_warnings
from eiwa.serving.results import Entity, Prediction
from eiwa.tokenize import document_sentences


class Tagger:
    def __init__(self, config: Config, encoder: Encoder, model: NERModel, meta: dict | None = None):
        self.config = config
        self.encoder = encoder
        self.model = model
        self.meta = meta or {}
        self.origin: str | None = None  # the path or built-in name it was loaded from

    @classmethod
    def create(cls, config: Config, encoder: Encoder) -> Tagger:
        """A tagger with freshly initialised weights (under the current torch seed)."""
        model = NERModel(
            encoder.modules(),
            encoder.input_order(),
            config.hidden_dim,
            len(encoder.tags),
            config.dropout,
            config.decoder,
        )
        return cls(config, encoder, model)

    @property
    def entity_types(self) -> list[str]:
        return self.encoder.tags.entity_types()

    @property
    def label_meanings(self) -> dict[str, str]:
        """What each entity type means (type -> one line), as recorded in meta.json "labels"; for a model
        saved before labels were recorded, its card's; {} when nothing says."""
        return dict(self.meta.get("labels") or (self.meta.get("card") or {}).get("labels") or {})

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    def cpu_weights(self) -> dict[str, torch.Tensor]:
        """The model's weights as saved files hold them: on the CPU, contiguous."""
        return {k: v.detach().cpu().contiguous() for k, v in self.model.state_dict().items()}

    def to(self, device: str | torch.device) -> Tagger:
        """Move the model to `device` ("cpu", "cuda", "cuda:1", "auto"); batches follow it."""
        self.model.to(resolve_device(device))
        return self

    # ------------------------------------------------------------------------- tagging

    def tag_encoded(self, encoded: Encoded, batch_size: int = 64, confidence: bool = False) -> list[list[tuple]]:
        """Token-index entity spans `(start, end, type)` for every encoded sentence; with `confidence`,
        `(start, end, type, probability)` (inference.tag_encoded)."""
        was_training = self.model.training
        if was_training:
            self.model.eval()
        try:
            return tag_encoded(self.model, self.encoder, encoded, batch_size, confidence)
        finally:
            if was_training:
                self.model.train()

    def marginals(self, sentences: Sequence[Sentence], batch_size: int = 64, encoded: Encoded | None = None):
        """P(tag) of every token of each sentence: [tokens, tags] float32 arrays, the tags in the
        order of `encoder.tags.items` (the CRF's exact marginals)."""
        arguments.positive_int("batch_size", batch_size)
        if encoded is None:
            encoded = self.encoder.encode(sentences, with_tags=False)
        was_training = self.model.training
        self.model.eval()
        try:
            return token_marginals(self.model, self.encoder, encoded, batch_size)
        finally:
            self.model.train(was_training)

    def tag_sentences(
        self,
        sentences: Sequence[Sentence],
        batch_size: int = 64,
        encoded: Encoded | None = None,
        confidence: bool = False,
    ) -> list[list[Span]]:
        """Predicted entities of pre-tokenized sentences, as character spans into each sentence's text.

        `encoded` is these sentences already encoded by this tagger's encoder (training scores
        the same dev set every epoch and encodes it once)."""
        arguments.positive_int("batch_size", batch_size)
        if encoded is None:
            encoded = self.encoder.encode(sentences, with_tags=False)
        token_spans = self.tag_encoded(encoded, batch_size, confidence)
        return [_character_spans(s, spans) if spans else [] for s, spans in zip(sentences, token_spans)]

    def predict(
        self, texts: str | Iterable[str], batch_size: int = 64, split_sentences: bool = True
    ) -> list[Prediction]:
        """Raw text -> `{"text", "entities": [{"start", "end", "type", "text", "confidence"}],
        "sentences": [{"start", "end"}]}` with character offsets into the given string. One string is
        one text (its result is a list of one); an iterable gives one result per text, in order.

        A text may be a whole document: it is split into sentences (`eiwa.tokenize.sentences`), which
        are tagged one by one, all texts' sentences in shared batches; with `split_sentences=False`
        each text is tagged as one sentence. See `pipe` for large inputs."""
        return list(self.pipe(arguments.text_or_texts(texts), batch_size, split_sentences=split_sentences))

    def pipe(
        self, texts: Iterable[str], batch_size: int = 64, chunk_size: int = 1000, split_sentences: bool = True
    ) -> Iterator[Prediction]:
        """Results one by one, reading `texts` lazily `chunk_size` at a time, one chunk ahead of the
        results (memory stays bounded for a stream of any length)."""
        if isinstance(texts, str):
            raise EiwaError("pipe takes an iterable of texts; for one text use predict(text)")
        # Checked here, not when the generator is first advanced, so a bad call fails where it is made.
        iterator = iter(arguments.text_or_texts(texts))
        arguments.positive_int("batch_size", batch_size)
        arguments.positive_int("chunk_size", chunk_size)
        return self._pipe(iterator, batch_size, chunk_size, split_sentences)

    def _pipe(self, iterator: Iterator, batch_size: int, chunk_size: int, split: bool) -> Iterator[Prediction]:
        chunks = iter(lambda: list(itertools.islice(iterator, chunk_size)), [])
        prepare = functools.partial(self.prepare_documents, sentences=None, split_sentences=split)
        tag = functools.partial(self.tag_prepared, batch_size=batch_size)
        for tagged in one_ahead(chunks, prepare, tag):
            yield from (record for record, _ in tagged)

    def tag_documents(
        self,
        texts: Sequence[str],
        sentences: Sequence[Sequence[tuple[int, int]]] | None = None,
        batch_size: int = 64,
        split_sentences: bool = True,
    ) -> list[tuple[Prediction, list[Sentence]]]:
        """Tag each text as the sentences it holds: `sentences[i]` lists text i's `(start, end)`
        character spans (a spaCy Doc's sentences, say); without it they are found by
        `eiwa.tokenize.sentences`, or each text is one sentence when `split_sentences` is false.
        The sentences of all texts are tagged together, `batch_size` at a time. Returns, per text and
        in order, its result (entity and sentence offsets into the text) and its tokenized sentences
        (token offsets into each sentence's own text)."""
        if isinstance(texts, str):
            raise EiwaError("tag_documents takes a list of texts; for one text use predict(text)")
        texts = list(arguments.text_or_texts(texts))
        arguments.positive_int("batch_size", batch_size)
        return self.tag_prepared(self.prepare_documents(texts, sentences, split_sentences), batch_size)

    def prepare_documents(self, texts, sentences=None, split_sentences: bool = True) -> Documents:
        """`tag_documents`' first half: the texts checked, split into sentences, tokenized and encoded,
        all that comes before the model (Python work, which `one_ahead` overlaps with the model's)."""
        for text in texts:
            arguments.text_item(text)
        if sentences is not None and len(sentences) != len(texts):
            raise EiwaError(f"sentences must list the spans of each text: {len(sentences)} for {len(texts)} texts")
        sentences, tokenized = document_sentences(texts, self.config.lang, sentences, split_sentences)
        encoded = self.encoder.encode(tokenized, with_tags=False)
        return Documents(texts, sentences, tokenized, encoded)

    def tag_prepared(self, documents: Documents, batch_size: int = 64) -> list[tuple[Prediction, list[Sentence]]]:
        """`tag_documents`' second half: the model's tagging of prepared documents, and the results."""
        tokenized = documents.tokenized
        tagged = self.tag_sentences(tokenized, batch_size, documents.encoded, confidence=True) if tokenized else []
        results, first = [], 0
        for text, spans in zip(documents.texts, documents.sentences):
            entities = [
                Span(span.start + start, span.end + start, span.type, span.confidence)
                for (start, _), found in zip(spans, tagged[first : first + len(spans)])
                for span in found
            ]
            results.append((as_json(text, entities, spans), tokenized[first : first + len(spans)]))
            first += len(spans)
        return results

    def evaluate(
        self,
        data: Sequence[Sentence] | str | Path | None,
        batch_size: int = 64,
        encoded: Encoded | None = None,
        format: str | None = None,
        **read_options,
    ) -> Scores:
        """Entity-level exact match on character spans against gold entities: of sentences, or of a
        data file read in `format` (default: the one its content shows; `read_options`: columns,
        token_prefix, allow_empty; data None with format hironsan: the Hironsan corpus). The scores'
        `warnings` name the entity types that the data and the model do not share."""
        if data is None or isinstance(data, (str, Path)):
            from eiwa.readers import read_gold

            data = read_gold(data, format, self.config.lang, **read_options).sentences
        elif not (isinstance(data, Sequence) and all(isinstance(s, Sentence) for s in data)):
            raise EiwaError(f"data must be a list of Sentences, a data file's path or None, got {type(data).__name__}")
        predicted = self.tag_sentences(data, batch_size, encoded)
        gold = [[e.as_tuple() for e in s.entities] for s in data]
        scores = score(gold, [[e.as_tuple() for e in p] for p in predicted])
        scores.warnings = type_warnings({span[2] for spans in gold for span in spans}, self.entity_types)
        return scores

    # ------------------------------------------------------------------------- persistence

    def save(
        self, directory: str | Path, training: dict | None = None, extra: Callable[[Path], None] | None = None
    ) -> None:
        """Write the model to `directory` as a whole: built beside it, then swapped in, so that the
        path always holds a complete model (persist.replace_directory). `extra(staging)` may add
        files to the same swap (training's checkpoint)."""
        if training is not None:
            self.meta["training"] = training

        def fill(staging: Path) -> None:
            fault_point("write model.safetensors")
            save_file(self.cpu_weights(), staging / "model.safetensors")
            fault_point("write config.json")
            dump_json(staging / "config.json", self.config.to_dict())
            fault_point("write vocab.json")
            dump_json(staging / "vocab.json", self.encoder.to_json())
            if extra is not None:
                extra(staging)
            files = checksums(staging, ["model.safetensors", "config.json", "vocab.json"])
            fault_point("write meta.json")
            dump_json(
                staging / "meta.json",
                {
                    **self.meta,
                    "format": FORMAT,
                    "format_version": FORMAT_VERSION,
                    "eiwa_version": __version__,
                    "lang": self.config.lang,
                    "entity_types": self.entity_types,
                    "files": files,
                },
            )

        replace_directory(directory, fill, replaceable=is_model_directory)

    @classmethod
    def load(cls, name_or_path: str | Path) -> Tagger:
        directory = resolve_model(arguments.model_name(name_or_path))
        meta = read_meta(directory)
        try:
            config = Config.from_dict(read_json(directory / "config.json"), str(directory / "config.json")).validate()
            encoder = Encoder.from_json(config, read_json(directory / "vocab.json"))
            tagger = cls.create(config, encoder)  # reads the vocabularies' sizes: a missing one is found here
        except (KeyError, TypeError, ValueError, AttributeError, IndexError) as error:
            raise ModelError(f"{directory}: vocab.json is damaged ({type(error).__name__}: {error})") from None
        except EiwaError as error:
            raise ModelError(f"{directory}: {error}") from None
        tagger.meta = meta
        tagger.origin = str(name_or_path)
        tagger.load_weights(directory / "model.safetensors")
        tagger.model.eval()  # a loaded model tags: no dropout, and no mode for concurrent calls to flip
        return tagger

    def load_weights(self, path: Path) -> None:
        if found := what_is_there(path):
            raise ModelError(f"{path}: {found}")
        try:
            weights = load_file(readable_file(path, ModelError))
        except (SafetensorError, OSError) as error:
            raise ModelError(f"{path}: damaged weights file ({error})") from None
        expected = self.model.state_dict()
        missing = sorted(set(expected) - set(weights))
        unexpected = sorted(set(weights) - set(expected))
        wrong = sorted(k for k in set(expected) & set(weights) if expected[k].shape != weights[k].shape)
        if missing or unexpected or wrong:
            problems = [
                f"{label}: {', '.join(keys[:5])}"
                for label, keys in (("missing", missing), ("unexpected", unexpected), ("wrong shape", wrong))
                if keys
            ]
            raise ModelError(f"{path}: weights do not match config and vocabularies ({'; '.join(problems)})")
        # The loaded tensors become the weights: they are mapped from the file (copy-on-write), so
        # only the pages a run reads take memory, and the initial weights are freed.
        self.model.load_state_dict(weights, assign=True)
        self.attach_features()

    def attach_features(self) -> None:
        """Let each feature take back what lives in its loaded weights (a vectors table's rows)."""
        for name, feature in self.encoder.features.items():
            feature.attach(getattr(self.model, name))


@dataclass
class Documents:
    """Texts made ready for the model: their sentence spans, tokenized sentences and encoding."""

    texts: Sequence[str]
    sentences: Sequence[Sequence[tuple[int, int]]]
    tokenized: list[Sentence]
    encoded: Encoded


def one_ahead(chunks: Iterable, prepare: Callable, finish: Callable) -> Iterator:
    """`finish(prepare(chunk))` for each chunk in order, with the next chunk prepared in this thread
    while a worker thread finishes the current one: the Python work of preparing (tokenizing,
    encoding) and the model's (torch, which leaves the GIL) take turns on the cores instead of one
    waiting for the other. One chunk is read ahead of the results."""
    with ThreadPoolExecutor(1, "eiwa-ahead") as worker:
        pending = None
        for chunk in chunks:
            prepared = prepare(chunk)
            if pending is not None:
                yield pending.result()
            pending = worker.submit(finish, prepared)
        if pending is not None:
            yield pending.result()


def _character_spans(sentence: Sentence, spans: Sequence[tuple]) -> list[Span]:
    """Token-index spans `(start, end, type[, confidence])` as character spans into the sentence's text."""
    starts, ends = zip(*sentence.offsets)
    return [Span(starts[span[0]], ends[span[1] - 1], span[2], *span[3:]) for span in spans]


def as_json(text: str, spans: Sequence[Span], sentences: Sequence[tuple[int, int]] | None = None) -> Prediction:
    """A result record; entities carry a confidence when the spans have one, and `sentences`, when
    given, become its "sentences" field."""
    entities: list[Entity] = []
    for s in spans:
        entity: Entity = {"start": s.start, "end": s.end, "type": s.type, "text": text[s.start : s.end]}
        if s.confidence is not None:
            entity["confidence"] = round(s.confidence, 4)
        entities.append(entity)
    record: Prediction = {"text": text, "entities": entities}
    if sentences is not None:
        record["sentences"] = [{"start": start, "end": end} for start, end in sentences]
    return record


def resolve_device(name: str | torch.device = "cpu") -> torch.device:
    """`cpu`, `cuda` (or `cuda:N`), or `auto` (CUDA when PyTorch sees a GPU, else the CPU)."""
    if isinstance(name, torch.device):
        return name
    arguments.device_name("device", name)
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise EiwaError(f"--device must be cpu, cuda, cuda:N or auto, got {name!r}") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise EiwaError(
            f"--device {name}: this PyTorch sees no CUDA GPU (torch {torch.__version__}; a CUDA build is "
            "installed as the README says)"
        )
    if device.type not in ("cpu", "cuda"):
        raise EiwaError(f"--device must be cpu, cuda, cuda:N or auto, got {name!r}")
    return device
